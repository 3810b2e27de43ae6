import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { configReference } from '../../src/config/config.ts';
import { README, renderTable, withTable } from '../../scripts/docs-config.ts';

const SCRIPT = fileURLToPath(new URL('../../scripts/docs-config.ts', import.meta.url));

describe("README's configuration table is generated from src/config/config.ts", () => {
  test('every variable has a description and appears in the table with its default', () => {
    const table = renderTable();
    for (const v of configReference()) {
      assert.ok(v.description?.trim(), `${v.name} has no description`);
      const row = table.split('\n').find((line) => line.startsWith(`| \`${v.name}\` |`));
      assert.ok(row, `${v.name} is in the table`);
      if (v.defaultValue !== undefined)
        assert.ok(row.includes(`\`${v.defaultValue}\``), `${v.name} shows its default`);
    }
  });

  test('the check mode passes on README.md as committed (run `npm run docs:config` when it fails)', () => {
    const readme = readFileSync(README, 'utf8');
    assert.equal(withTable(readme), readme, 'README.md is stale: run `npm run docs:config`');
    // The script itself, as CI or a hook would run it.
    execFileSync(process.execPath, [SCRIPT, '--check'], { stdio: 'pipe' });
  });

  test('the check mode fails on a stale README', () => {
    const readme = readFileSync(README, 'utf8');
    const stale = readme.replace(/\| `PORT` \| `3000` \| [^\n]*/, '| `PORT` | `8080` | an old description |');
    assert.notEqual(stale, readme);
    assert.notEqual(withTable(stale), stale);
    assert.equal(withTable(withTable(stale)), withTable(stale), 'rewriting is stable');
  });
});
