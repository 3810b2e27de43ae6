import { smsAllowed } from '../identity/phone.ts';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { sql } from 'kysely';
import { z } from 'zod';
import type { ConsentStore } from '../consent/consent-store.ts';
import type { Db } from '../db/database.ts';
import { AppError } from '../platform/errors.ts';
import { type CitizenStore, claimsFor, writeProfile } from '../identity/citizen-store.ts';
import {
  ADDRESS_PARTS,
  FIELD_CATALOG,
  type FieldDef,
  type FieldValue,
  inputName,
  parseField,
} from '../identity/field-catalog.ts';
import type { Oidc } from '../oidc/provider.ts';
import type { ServiceStore } from '../services/service-store.ts';
import type { CodeMechanism, CodePurpose } from '../methods/code/code-mechanism.ts';
import type { Translate } from '../platform/i18n.ts';

export const WRITE_SCOPE = 'cidadela:write';
export const WRITE_BACK_PATH = '/api/v1/me';
/** Far above any real profile (an address is under 1 KB); larger bodies are refused with 413. */
export const WRITE_BACK_BODY_LIMIT = 16 * 1024;

const BY_CLAIM = new Map(FIELD_CATALOG.map((f) => [f.claim, f]));

/**
 * Identifiers and recovery channels a service may only propose: the citizen's code, sent to the
 * proposed address, makes it theirs; until then the old one stays and works (review finding 2).
 */
const PROPOSED_ONLY: Record<string, { purpose: CodePurpose; channel: 'email' | 'sms' }> = {
  email: { purpose: 'email_change', channel: 'email' },
  phone_number: { purpose: 'phone_change', channel: 'sms' },
};

function bearer(reply: FastifyReply, status: 401 | 403, error: string, description: string) {
  const scope = status === 403 && error === 'insufficient_scope' ? `, scope="${WRITE_SCOPE}"` : '';
  reply.header(
    'www-authenticate',
    `Bearer realm="cidadela", error="${error}", error_description="${description}"${scope}`,
  );
  return reply.status(status).send({ error, error_description: description });
}

/** The JSON shape of one editable field's value; what it means is then checked by the catalog (parseField). */
function valueSchema(def: FieldDef): z.ZodType {
  switch (def.kind) {
    case 'address':
      return z
        .strictObject(
          Object.fromEntries([
            ...ADDRESS_PARTS.map((p) => [
              p.part,
              z
                .string()
                .nullish()
                .describe(`${p.required ? 'required' : 'optional'}, at most ${p.maxLength} characters${p.part === 'postal_code' ? ' (a CEP: 8 digits, with or without the hyphen, when the country is BR)' : p.part === 'region' ? ' (a Brazilian state, when the country is BR)' : p.part === 'country' ? ' (ISO 3166-1 alpha-2; BR when absent)' : ''}`),
            ]),
            ['formatted', z.string().nullish().describe('ignored: Cidadela formats the address itself')],
          ]),
        )
        .describe('an address; the parts of the `address` claim');
    case 'date':
      return z.iso.date().describe('a real date in the past, YYYY-MM-DD');
    case 'email':
      return z.string().max(def.maxLength ?? 254).meta({ format: 'email' });
    case 'phone':
      return z.string().max(def.maxLength ?? 25).describe('a mobile number: E.164 (+55…), or Brazilian without +55');
    case 'choice':
      return z.enum(def.choices as [string, ...string[]]);
    case 'country':
      return z.string().regex(/^[A-Za-z]{2}$/).describe('ISO 3166-1 alpha-2');
    default:
      return z
        .string()
        .max(def.maxLength ?? 200)
        .describe(def.key === 'name' || def.key === 'mother_name' ? 'a full name (at least two words)' : 'text');
  }
}

/** Per claim, the schema a written-back value must have (editable catalog fields only). */
export const WRITE_BACK_FIELDS = new Map(
  FIELD_CATALOG.filter((f) => f.editable).map((f) => [f.claim, valueSchema(f)] as const),
);

/**
 * The body of `PATCH /api/v1/me` as the OpenAPI document shows it. The route applies the same
 * field schemas one claim at a time, so it can say which fields are at fault and why.
 */
export const writeBackBodySchema = z
  .strictObject(Object.fromEntries([...WRITE_BACK_FIELDS].map(([claim, schema]) => [claim, schema.optional()])))
  .meta({
    minProperties: 1,
    description:
      'Claim names to their new values. Only fields of your data contract that the citizen shares with you and may edit (the CPF may not); all or nothing.',
  });

/** The form inputs parseField reads, from a value of the right shape. */
function asForm(def: FieldDef, value: unknown): Record<string, string> {
  if (def.kind === 'address') {
    const parts = value as Record<string, string | null | undefined>;
    const form: Record<string, string> = {};
    for (const p of ADDRESS_PARTS) {
      const v = parts[p.part];
      if (typeof v === 'string') form[inputName(def.key, p.part)] = v;
    }
    return form;
  }
  return { [inputName(def.key)]: value as string };
}

/**
 * Write-back: a service holding a citizen's access token with the `cidadela:write` scope updates
 * fields of its data contract that the citizen shares with it and may edit. JSON, keyed by claim
 * name, validated by the field catalog. All or nothing: any refused field refuses the request and
 * nothing is written or emitted. The change reaches every other consented service; the writing
 * service gets no echo of it.
 */
export function registerWriteBackRoutes(
  app: FastifyInstance,
  deps: {
    db: Db;
    oidc: Oidc;
    services: ServiceStore;
    citizens: CitizenStore;
    consents: ConsentStore;
    codes: CodeMechanism;
    translator(locale: string | null): Translate;
    /** SMS_COUNTRIES: a number proposed must be one an SMS can prove. */
    smsCountries: readonly string[];
    /** Mail or SMS queued in a committed transaction: wake the sender. */
    messageQueued(): void;
  },
) {
  const { db, oidc, services, citizens, consents, codes } = deps;

  app.patch(WRITE_BACK_PATH, { config: { csrf: false }, bodyLimit: WRITE_BACK_BODY_LIMIT }, async (request, reply) => {
    const header = request.headers.authorization ?? '';
    const value = /^Bearer\s+([\w.~+/-]+=*)\s*$/i.exec(header)?.[1];
    if (!value) return bearer(reply, 401, 'invalid_token', 'a Bearer access token is required');
    const token = await oidc.provider.AccessToken.find(value);
    if (!token?.accountId || !token.clientId || !token.grantId)
      return bearer(reply, 401, 'invalid_token', 'the access token is not valid');
    // A DPoP-bound token (RFC 9449) is good only with a proof of its key, which this API does not
    // verify: refuse it rather than let a stolen one through as a bearer token.
    if (token.jkt) return bearer(reply, 401, 'invalid_token', 'the access token is DPoP-bound; this API accepts only Bearer tokens');
    const grant = await oidc.provider.Grant.find(token.grantId);
    if (!grant || grant.clientId !== token.clientId || grant.accountId !== token.accountId) {
      return bearer(reply, 401, 'invalid_token', 'the access token is not valid');
    }
    if (
      !String(token.scope ?? '')
        .split(' ')
        .includes(WRITE_SCOPE)
    ) {
      return bearer(reply, 403, 'insufficient_scope', `the access token does not carry ${WRITE_SCOPE}`);
    }
    const clientId = token.clientId;
    const service = await services.find(clientId);
    const citizen = await citizens.findById(token.accountId);
    if (!service || !citizen || citizen.status !== 'active')
      return bearer(reply, 401, 'invalid_token', 'the access token is not valid');
    const consent = await consents.current(citizen.id, clientId);
    if (!consent) return reply.status(403).send({ error: 'consent.missing' });
    // The token's scope is not enough: the citizen must have consented to write access itself.
    if (!consent.writeBack) return bearer(reply, 403, 'insufficient_scope', `the citizen has not consented to ${WRITE_SCOPE}`);

    if (!/^application\/json\b/i.test(request.headers['content-type'] ?? '')) {
      return reply.status(415).send({ error: 'body.json_required' });
    }
    const body = request.body;
    if (!body || typeof body !== 'object' || Array.isArray(body))
      return reply.status(400).send({ error: 'body.invalid' });
    const entries = Object.entries(body as Record<string, unknown>);
    if (entries.length === 0) return reply.status(400).send({ error: 'body.empty' });
    if (entries.length > FIELD_CATALOG.length) return reply.status(400).send({ error: 'body.invalid' });

    const contract = new Set(service.fields.map((f) => f.key));
    const shared = new Set(consent.fieldsShared);
    const refused: Record<string, string> = {};
    const invalid: Record<string, { error: string; inputs?: Record<string, string> }> = {};
    const changes: Record<string, FieldValue> = {};
    for (const [claim, raw] of entries) {
      const def = BY_CLAIM.get(claim);
      if (!def) invalid[claim] = { error: 'field.unknown' };
      else if (!contract.has(def.key)) refused[claim] = 'field.not_in_contract';
      else if (!shared.has(def.key)) refused[claim] = 'field.not_shared';
      else if (!def.editable) refused[claim] = 'field.not_editable';
      else {
        const shape = WRITE_BACK_FIELDS.get(claim)!.safeParse(raw);
        const parsed = shape.success ? parseField(def, asForm(def, shape.data)) : undefined;
        if (!parsed?.ok)
          invalid[claim] = {
            error: `field.${def.key}.invalid`,
            ...(parsed && !parsed.ok ? { inputs: parsed.errors } : {}),
          };
        else if (parsed.value === null) invalid[claim] = { error: `field.${def.key}.required` };
        // A proposed number is proven by SMS: one the operator does not send to could never be.
        else if (def.key === 'phone_number' && !smsAllowed(String(parsed.value), deps.smsCountries))
          invalid[claim] = { error: 'phone.country_disabled' };
        else changes[def.key] = parsed.value;
      }
    }
    if (Object.keys(refused).length)
      return reply.status(403).send({ error: 'write_back.refused', fields: refused });
    if (Object.keys(invalid).length)
      return reply.status(400).send({ error: 'write_back.invalid', fields: invalid });

    const result = await db.transaction().execute(async (trx) => {
      // Read again under the row lock: the values compared are the ones being replaced.
      await sql`select 1 from citizens where id = ${citizen.id} for update`.execute(trx);
      const current = await citizens.findById(citizen.id, trx);
      if (current?.status !== 'active') throw new AppError('account.inactive', 403);
      const direct: Record<string, FieldValue> = {};
      const proposals: [string, FieldValue][] = [];
      for (const [key, value] of Object.entries(changes)) {
        if (PROPOSED_ONLY[key]) proposals.push([key, value]);
        else direct[key] = value;
      }
      const changed = await writeProfile(trx, current, direct, { clientId });
      const pending: string[] = [];
      const limited: string[] = [];
      const t = deps.translator(current.locale);
      for (const [key, value] of proposals) {
        const same = key === 'email' ? current.email?.toLowerCase() === String(value).toLowerCase() : current.phoneNumber === value;
        if (same) continue;
        const how = PROPOSED_ONLY[key]!;
        const issued = await codes.issue(trx, { purpose: how.purpose, channel: how.channel, citizenId: current.id, address: String(value), t });
        (issued.ok ? pending : limited).push(key);
      }
      const after = (await citizens.findById(citizen.id, trx))!;
      return {
        changed,
        pending,
        limited,
        claims: claimsFor(
          after,
          [...shared].filter((k) => contract.has(k)),
        ),
      };
    });
    if (result.pending.length) deps.messageQueued();
    const claimOf = (k: string) => FIELD_CATALOG.find((f) => f.key === k)?.claim ?? k;
    return reply.status(result.pending.length ? 202 : 200).send({
      updated: result.changed.map(claimOf),
      // Proposed to the citizen, who confirms with the code sent to the new address.
      ...(result.pending.length ? { pending_confirmation: result.pending.map(claimOf) } : {}),
      // Too many codes to that citizen or address today: nothing proposed, try another day.
      ...(result.limited.length ? { not_proposed: result.limited.map(claimOf) } : {}),
      claims: result.claims,
    });
  });
}
