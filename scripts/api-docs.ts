/**
 * Renders the OpenAPI documents and their index into docs/api/.
 *
 *   npm run docs:api          # write them
 *   npm run docs:api:check    # exit 1, naming the files, when docs/api/ is not what the code says (for CI)
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { renderApiDocs } from '../src/service-api/api-docs.ts';

const DIR = new URL('../docs/api/', import.meta.url).pathname;
const check = process.argv.includes('--check');
const stale: string[] = [];
mkdirSync(DIR, { recursive: true });
for (const [name, content] of Object.entries(renderApiDocs())) {
  const file = join(DIR, name);
  const current = existsSync(file) ? readFileSync(file, 'utf8') : undefined;
  if (current === content) continue;
  if (check) stale.push(`docs/api/${name}`);
  else {
    writeFileSync(file, content);
    console.log(`wrote docs/api/${name}`);
  }
}
if (stale.length) {
  console.error(`out of date (run npm run docs:api): ${stale.join(', ')}`);
  process.exitCode = 1;
}
