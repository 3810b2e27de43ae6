import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { serviceJson } from '../admin/admin-routes.ts';
import { AppError } from '../platform/errors.ts';
import { createI18n } from '../platform/i18n.ts';
import { FIELD_CATALOG } from '../identity/field-catalog.ts';
import type { ServiceStore } from '../services/service-store.ts';

export const SERVICE_USAGE = `cidadela service <command> [options]

  add     --name N --redirect-uri URI [--redirect-uri URI ...] [--client-id ID]
          [--type confidential|native|spa]  (default confidential: a server that keeps a secret;
            native: a mobile or desktop app, redirects https://app.example/cb, br.gov.cidade.app:/cb
            or http://127.0.0.1/cb (any port); spa: JavaScript in a browser; both have no secret)
          [--allowed-origin https://portal.example ...]  (spa: origins that may call the token
            endpoint from a browser; default the redirect URIs' origins)
          [--dpop | --no-dpop]  (tokens must be DPoP-bound, RFC 9449)
          [--min-level bronze|prata|ouro]  (lowest trust level accepted; below it the citizen is
            offered to sign in with a digital certificate)
          [--accepts-foreigners | --no-accepts-foreigners]  (accounts without a CPF may sign in;
            default off: the login page then offers no foreign registration)
          [--require-second-factor | --no-require-second-factor]  (every sign-in passes a second
            step; a citizen without one is offered to add an authenticator app first)
          [--description D] [--post-logout-redirect-uri URI ...] [--backchannel-logout-uri URI]
          [--auth client_secret_basic|client_secret_post|private_key_jwt] [--jwks-file F]
          [--terms-file F.md]  (publishes a new terms version when the text changed)
          [--field key:required|optional[/required|optional|absent]:purpose ...]
          [--fields-file contract.json]  (the data contract: catalog fields the service consumes,
            each with its purpose; after a slash, how it applies to foreign accounts, e.g.
            cpf:required/absent:..., passport_number:optional:...; keys: cidadela service fields)
  update  <client-id> [same options as add]
  list
  show    <client-id>
  terms   <client-id>   every published terms version with its SHA-256
  fields                the field catalog (keys a contract may use)
  rotate-secret <client-id>
  remove  <client-id>

  --json  prints JSON (for scripts)`;

const OPTION_OF_FIELD: Record<string, string> = {
  name: '--name',
  clientId: '--client-id',
  description: '--description',
  type: '--type',
  allowedOrigins: '--allowed-origin',
  dpopBoundAccessTokens: '--dpop',
  minTrustLevel: '--min-level',
  acceptsForeigners: '--accepts-foreigners',
  requireSecondFactor: '--require-second-factor',
  redirectUris: '--redirect-uri',
  postLogoutRedirectUris: '--post-logout-redirect-uri',
  backchannelLogoutUri: '--backchannel-logout-uri',
  tokenEndpointAuthMethod: '--auth',
  jwks: '--jwks-file',
  termsMarkdown: '--terms-file',
  fields: '--field',
};

/** Errors name the option the operator typed ("--redirect-uri https://x#y"), not the API field. */
function optionFor(field: string, input: Record<string, unknown>): string {
  const [name = '', index] = field.split('.');
  const option = OPTION_OF_FIELD[name] ?? field;
  const list = input[name];
  return index !== undefined && Array.isArray(list) && typeof list[Number(index)] === 'string' ? `${option} ${list[Number(index)]}` : option;
}

type Out = { log(line: string): void; error(line: string): void };

/** Options naming a file the operator has: read where the command is typed, even when a server runs it. */
export const FILE_OPTIONS = ['--terms-file', '--jwks-file', '--fields-file'] as const;

const options = {
  name: { type: 'string' },
  'client-id': { type: 'string' },
  description: { type: 'string' },
  type: { type: 'string' },
  'allowed-origin': { type: 'string', multiple: true },
  dpop: { type: 'boolean' },
  'min-level': { type: 'string' },
  'accepts-foreigners': { type: 'boolean' },
  'require-second-factor': { type: 'boolean' },
  'redirect-uri': { type: 'string', multiple: true },
  'post-logout-redirect-uri': { type: 'string', multiple: true },
  'backchannel-logout-uri': { type: 'string' },
  auth: { type: 'string' },
  'jwks-file': { type: 'string' },
  'terms-file': { type: 'string' },
  field: { type: 'string', multiple: true },
  'fields-file': { type: 'string' },
  json: { type: 'boolean' },
} as const;

/** Runs `cidadela service ...`; returns the process exit code. */
export async function serviceCommand(
  args: string[],
  services: ServiceStore,
  out: Out,
  readFile: (path: string) => string = (path) => readFileSync(path, 'utf8'),
): Promise<number> {
  const [command, ...rest] = args;
  let parsed: ReturnType<typeof parseArgs<{ args: string[]; options: typeof options; allowPositionals: true }>>;
  try {
    parsed = parseArgs({ args: rest, options, allowPositionals: true, allowNegative: true });
  } catch (error) {
    out.error(`${(error as Error).message}\n\n${SERVICE_USAGE}`);
    return 2;
  }
  const v = parsed.values;
  const json = v.json === true;
  const input: Record<string, unknown> = {};
  if (v.name !== undefined) input.name = v.name;
  if (v['client-id'] !== undefined) input.clientId = v['client-id'];
  if (v.description !== undefined) input.description = v.description;
  if (v.type !== undefined) input.type = v.type;
  if (v['allowed-origin']) input.allowedOrigins = v['allowed-origin'];
  if (v.dpop !== undefined) input.dpopBoundAccessTokens = v.dpop;
  if (v['min-level'] !== undefined) input.minTrustLevel = v['min-level'];
  if (v['accepts-foreigners'] !== undefined) input.acceptsForeigners = v['accepts-foreigners'];
  if (v['require-second-factor'] !== undefined) input.requireSecondFactor = v['require-second-factor'];
  if (v['redirect-uri']) input.redirectUris = v['redirect-uri'];
  if (v['post-logout-redirect-uri']) input.postLogoutRedirectUris = v['post-logout-redirect-uri'];
  if (v['backchannel-logout-uri'] !== undefined) input.backchannelLogoutUri = v['backchannel-logout-uri'] || null;
  if (v.auth !== undefined) input.tokenEndpointAuthMethod = v.auth;
  try {
    if (v['jwks-file']) input.jwks = JSON.parse(readFile(v['jwks-file']));
    if (v['terms-file']) input.termsMarkdown = readFile(v['terms-file']);
    if (v['fields-file']) input.fields = JSON.parse(readFile(v['fields-file']));
  } catch (error) {
    out.error(`cannot read file: ${(error as Error).message}`);
    return 2;
  }
  if (v.field) {
    const fields: unknown[] = [];
    for (const spec of v.field) {
      const [key = '', needs = '', ...purpose] = spec.split(':');
      // "required/optional": required of Brazilian accounts, optional for foreign ones (or absent).
      const [need, foreigners, ...extra] = needs.split('/');
      if (
        (need !== 'required' && need !== 'optional') ||
        (foreigners !== undefined && !['required', 'optional', 'absent'].includes(foreigners)) ||
        extra.length
      ) {
        out.error(`--field ${spec}: expected key:required|optional[/required|optional|absent]:purpose`);
        return 2;
      }
      fields.push({ key, required: need === 'required', purpose: purpose.join(':'), ...(foreigners ? { foreigners } : {}) });
    }
    input.fields = [...((input.fields as unknown[] | undefined) ?? []), ...fields];
  }
  const id = parsed.positionals[0];
  const show = (value: unknown, text: string) => out.log(json ? JSON.stringify(value, null, 2) : text);
  try {
    switch (command) {
      case 'add': {
        const { service, clientSecret } = await services.add(input);
        show(
          { service: serviceJson(service), clientSecret },
          `service added: ${service.name}\n  client_id:     ${service.clientId}\n${
            clientSecret
              ? `  client_secret: ${clientSecret}\n  (shown only now; it is stored hashed)`
              : service.tokenEndpointAuthMethod === 'none'
                ? `  type: ${service.type} app, no secret (it proves itself with PKCE)`
                : '  authentication: private_key_jwt'
          }`,
        );
        return 0;
      }
      case 'update': {
        if (!id) break;
        delete input.clientId;
        const service = await services.update(id, input);
        show({ service: serviceJson(service) }, `service updated: ${service.clientId}`);
        return 0;
      }
      case 'list': {
        const list = await services.list();
        show(
          { services: list.map(serviceJson) },
          list.length ? list.map((s) => `${s.clientId}\t${s.name}`).join('\n') : 'no services',
        );
        return 0;
      }
      case 'show': {
        if (!id) break;
        const service = await services.find(id);
        if (!service) throw new AppError('service.not_found', 404);
        show({ service: serviceJson(service) }, JSON.stringify(serviceJson(service), null, 2));
        return 0;
      }
      case 'terms': {
        if (!id) break;
        if (!(await services.find(id))) throw new AppError('service.not_found', 404);
        const versions = await services.termsHistory(id);
        show(
          { versions },
          versions.length
            ? versions.map((t) => `v${t.version}\t${t.publishedAt.toISOString()}\tsha256:${t.sha256}`).join('\n')
            : 'no terms published',
        );
        return 0;
      }
      case 'fields': {
        show(
          { fields: FIELD_CATALOG.map((f) => ({ key: f.key, claim: f.claim, sensitivity: f.sensitivity })) },
          FIELD_CATALOG.map((f) => `${f.key}\t${f.sensitivity}`).join('\n'),
        );
        return 0;
      }
      case 'rotate-secret': {
        if (!id) break;
        const clientSecret = await services.rotateSecret(id);
        show({ clientId: id, clientSecret }, `new client_secret for ${id}: ${clientSecret}\n(the old one no longer works)`);
        return 0;
      }
      case 'remove': {
        if (!id) break;
        await services.remove(id);
        show({ removed: id }, `service removed: ${id}`);
        return 0;
      }
    }
  } catch (error) {
    if (error instanceof AppError) {
      const message = createI18n().translator('en')(error.code);
      const details = ((error.details?.details as { field: string; message: string }[] | undefined) ?? []).map((d) => ({
        ...d,
        option: optionFor(d.field, input),
      }));
      if (json) out.error(JSON.stringify({ error: error.code, message, details }));
      else out.error([`error: ${message} (${error.code})`, ...details.map((d) => `  ${d.option}: ${d.message}`)].join('\n'));
      return 1;
    }
    throw error;
  }
  out.error(SERVICE_USAGE);
  return 2;
}
