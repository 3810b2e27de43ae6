import { ADMIN_API } from '../admin/admin-api-contract.ts';
import { type ApiContract, buildOpenApi, openApiPath } from './openapi.ts';
import { SERVICE_API } from './service-api-contract.ts';

/** The contracts and the files under docs/api/ they are rendered to. */
export const API_DOCUMENTS: { file: string; contract: ApiContract; servedAt: string }[] = [
  { file: 'service-api.openapi.json', contract: SERVICE_API, servedAt: '/api/v1/openapi.json' },
  { file: 'admin-api.openapi.json', contract: ADMIN_API, servedAt: '/admin/api/openapi.json' },
];

const ERRORS: [string, string, string][] = [
  ['400', '`error.bad_request`', 'the body is not well-formed JSON, or it carries a NUL character (U+0000)'],
  ['404', '`not_found`', 'no such route'],
  ['413', '`error.too_large`', 'the body is over the route’s limit (given with each request body)'],
  [
    '415',
    '`error.bad_request`',
    'a content type the route does not read: send `application/json` (`PATCH /api/v1/me` says `body.json_required`)',
  ],
  ['503', '`error.unavailable`', 'the database could not be reached; retry after `Retry-After` seconds'],
  [
    '503',
    '`broker.unavailable`',
    'RabbitMQ (or its management API) could not be reached or refused; `reason` says why; nothing changed',
  ],
];

function index(): string {
  const lines = [
    '# Cidadela’s HTTP APIs for services and operators',
    '',
    '<!-- Written by `npm run docs:api` from the zod schemas the routes validate with; `npm run docs:api:check` fails when it is out of date. Do not edit by hand. -->',
    '',
    'Each API is an OpenAPI 3.1 document, served by every Cidadela server and kept here:',
    '',
    '| API | document | served at |',
    '| --- | --- | --- |',
    ...API_DOCUMENTS.map((d) => `| ${d.contract.title} | [${d.file}](${d.file}) | \`${d.servedAt}\` |`),
    '',
    'Signing in is OpenID Connect: see the provider’s discovery document (`/.well-known/openid-configuration`) and [../integration.md](../integration.md). Events and write-back: [../integration-events.md](../integration-events.md).',
  ];
  for (const d of API_DOCUMENTS) {
    lines.push(
      '',
      `## ${d.contract.title}`,
      '',
      d.contract.description,
      '',
      '| operation | answers | what |',
      '| --- | --- | --- |',
    );
    for (const op of d.contract.operations) {
      const statuses = Object.keys(op.responses).join(', ');
      lines.push(`| \`${op.method.toUpperCase()} ${openApiPath(op.path)}\` | ${statuses} | ${op.summary} |`);
    }
  }
  lines.push(
    '',
    '## Errors every route may answer',
    '',
    'Besides each operation’s own errors (in its document), any route can answer these. The body is `{"error": "<code>", …}`; the code is stable.',
    '',
    '| status | `error` | when |',
    '| --- | --- | --- |',
    ...ERRORS.map(([status, code, when]) => `| ${status} | ${code} | ${when} |`),
    '',
  );
  return lines.join('\n');
}

/** Every file of docs/api/, by name, as `npm run docs:api` writes it. */
export function renderApiDocs(): Record<string, string> {
  const files: Record<string, string> = { 'README.md': index() };
  for (const d of API_DOCUMENTS) files[d.file] = `${JSON.stringify(buildOpenApi(d.contract), null, 2)}\n`;
  return files;
}
