import { createHash, randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import { z } from 'zod';
import type { Db } from '../db/database.ts';
import type { ServicesTable } from '../db/schema.ts';
import { AppError } from '../platform/errors.ts';
import { type AccountKind, FIELD_CATALOG, fieldApplies, isFieldKey } from '../identity/field-catalog.ts';
import {
  AUTH_METHODS,
  applicationType,
  CLIENT_TYPES,
  type ClientType,
  clientProblems,
  isPublic,
  originsOf,
  type Problem,
  type TokenEndpointAuthMethod,
} from './client-types.ts';

export type ContractField = {
  key: string;
  required: boolean;
  purpose: Record<string, string>;
  /** How the field applies to a foreign account, when not as to a Brazilian one (see `contractFor`). */
  foreigners?: 'required' | 'optional' | 'absent';
};
export type TermsVersion = { version: number; sha256: string; text: string; publishedAt: Date };

export type Service = {
  clientId: string;
  name: string;
  description: string;
  /** A server with a secret, a mobile or desktop app (RFC 8252), or a browser app: see client-types.ts. */
  type: ClientType;
  tokenEndpointAuthMethod: TokenEndpointAuthMethod;
  redirectUris: string[];
  postLogoutRedirectUris: string[];
  backchannelLogoutUri: string | null;
  jwks: { keys: unknown[] } | null;
  /** Browser origins a browser app (spa) may call the token endpoint from (CORS). */
  allowedOrigins: string[];
  /** Tokens must be bound to the app's key with DPoP (RFC 9449); a request without a proof is refused. */
  dpopBoundAccessTokens: boolean;
  /** The current terms text ('' when none was published). */
  termsMarkdown: string;
  terms: TermsVersion | null;
  fields: ContractField[];
  firstParty: boolean;
  /** The lowest trust level (acr) the service accepts; a citizen below it is offered the step-up. */
  minTrustLevel: 'bronze' | 'prata' | 'ouro';
  /** Whether accounts without a CPF (foreigners) may sign in here; off unless the operator turns it on. */
  acceptsForeigners: boolean;
  /** Every citizen signing in here passes a second step; one without a factor is offered to add one. */
  requireSecondFactor: boolean;
  createdAt: Date;
  updatedAt: Date;
};

// The shape only: what an address may be depends on the kind of service (clientProblems).
const uri = z.string().trim().min(1).max(2000);
const jwksSchema = z.object({ keys: z.array(z.record(z.string(), z.unknown())).min(1).max(10) });

const purposeText = z.string().trim().min(3).max(500);
const contractField = z
  .object({
    key: z
      .string()
      .refine(isFieldKey, { message: 'is not a field of the catalog' })
      .describe(`a field of the catalog: ${FIELD_CATALOG.map((f) => f.key).join(', ')}`),
    required: z.boolean().default(false),
    foreigners: z.enum(['required', 'optional', 'absent']).optional(),
    purpose: z.union([
      purposeText.describe('why the service needs it, in pt-BR'),
      z
        .object({ 'pt-BR': purposeText, en: purposeText.optional(), es: purposeText.optional() })
        .strict(),
    ]),
  })
  .strict()
  .transform((f) => ({
    key: f.key,
    required: f.required,
    purpose: typeof f.purpose === 'string' ? { 'pt-BR': f.purpose } : (f.purpose as Record<string, string>),
    ...(f.foreigners ? { foreigners: f.foreigners } : {}),
  }));
export const contractSchema = z
  .array(contractField)
  .max(30)
  .refine((list) => new Set(list.map((f) => f.key)).size === list.length, { message: 'a field appears twice' });

export const serviceInputSchema = z
  .object({
    clientId: z
      .string()
      .regex(/^[a-z0-9][a-z0-9-]{2,62}$/, 'lower-case letters, digits and hyphens, 3 to 63 characters')
      .optional()
      .describe('the OIDC client_id; generated when absent'),
    name: z.string().trim().min(1).max(120),
    description: z.string().trim().max(2000).default(''),
    type: z.enum(CLIENT_TYPES).default('confidential'),
    redirectUris: z.array(uri).min(1).max(20),
    postLogoutRedirectUris: z.array(uri).max(20).default([]),
    backchannelLogoutUri: uri.nullable().default(null),
    // Defaults by type: client_secret_basic for a confidential service, none for an app.
    tokenEndpointAuthMethod: z.enum(AUTH_METHODS).optional(),
    jwks: jwksSchema.nullable().default(null),
    // For a browser app, the origins of its redirect URIs when not given.
    allowedOrigins: z.array(uri).max(20).optional(),
    dpopBoundAccessTokens: z.boolean().default(false),
    termsMarkdown: z.string().max(100_000).default(''),
    fields: contractSchema.default([]),
    firstParty: z.boolean().default(false),
    minTrustLevel: z.enum(['bronze', 'prata', 'ouro']).default('bronze'),
    acceptsForeigners: z.boolean().default(false),
    requireSecondFactor: z.boolean().default(false),
  })
  .strict();

export type ServiceInput = z.input<typeof serviceInputSchema>;
export const serviceUpdateSchema = z
  .object({
    name: z.string().trim().min(1).max(120),
    description: z.string().trim().max(2000),
    // Accepted when it names the current type, so a full record can be sent back; a change is refused.
    type: z.enum(CLIENT_TYPES),
    redirectUris: z.array(uri).min(1).max(20),
    postLogoutRedirectUris: z.array(uri).max(20),
    backchannelLogoutUri: uri.nullable(),
    tokenEndpointAuthMethod: z.enum(AUTH_METHODS),
    jwks: jwksSchema.nullable(),
    allowedOrigins: z.array(uri).max(20),
    dpopBoundAccessTokens: z.boolean(),
    termsMarkdown: z.string().max(100_000),
    fields: contractSchema,
    minTrustLevel: z.enum(['bronze', 'prata', 'ouro']),
    acceptsForeigners: z.boolean(),
    requireSecondFactor: z.boolean(),
  })
  .partial()
  .strict();
export type ServiceUpdate = z.input<typeof serviceUpdateSchema>;

export function hashClientSecret(secret: string): string {
  // Secrets are 256 random bits, so a plain SHA-256 is as strong as a slow hash here.
  return `sha256:${createHash('sha256').update(secret).digest('base64url')}`;
}

function newSecret(): string {
  return randomBytes(32).toString('base64url');
}

function toService(
  row: ServicesTable & Record<string, unknown>,
  fields: ContractField[],
  terms: TermsVersion | null,
): Service {
  return {
    clientId: row.client_id,
    name: row.name,
    description: row.description as unknown as string,
    type: row.client_type as unknown as ClientType,
    tokenEndpointAuthMethod: row.token_endpoint_auth_method as unknown as Service['tokenEndpointAuthMethod'],
    redirectUris: row.redirect_uris,
    postLogoutRedirectUris: row.post_logout_redirect_uris as unknown as string[],
    backchannelLogoutUri: row.backchannel_logout_uri,
    jwks: row.jwks as unknown as Service['jwks'],
    allowedOrigins: row.allowed_origins as unknown as string[],
    dpopBoundAccessTokens: row.dpop_bound_access_tokens as unknown as boolean,
    termsMarkdown: terms?.text ?? '',
    terms,
    fields,
    firstParty: row.first_party as unknown as boolean,
    minTrustLevel: (row.min_trust_level as unknown as Service['minTrustLevel']) ?? 'bronze',
    acceptsForeigners: row.accepts_foreigners as unknown as boolean,
    requireSecondFactor: row.require_second_factor as unknown as boolean,
    createdAt: row.created_at as unknown as Date,
    updatedAt: row.updated_at as unknown as Date,
  };
}

function valueAt(input: unknown, path: PropertyKey[]): unknown {
  let value = input;
  for (const key of path) value = value && typeof value === 'object' ? (value as Record<PropertyKey, unknown>)[key] : undefined;
  return value;
}

/** Validation errors name the field at fault: "required" for a missing one, "unknown field" for an extra one. */
function parse<T>(schema: z.ZodType<T>, input: unknown): T {
  const parsed = schema.safeParse(input);
  if (!parsed.success) {
    const details = parsed.error.issues.flatMap((i) => {
      const field = i.path.map(String).join('.');
      if (i.code === 'unrecognized_keys') return i.keys.map((key) => ({ field: field ? `${field}.${key}` : key, message: 'unknown field' }));
      const missing = i.code === 'invalid_type' && valueAt(input, i.path) === undefined;
      return [{ field, message: missing ? 'required' : i.message }];
    });
    throw new AppError('service.invalid', 400, { details });
  }
  return parsed.data;
}

/**
 * A service's contract as it applies to one kind of account. A field the catalog gives only to the
 * other kind is not asked (no CPF of a foreigner, no passport of a Brazilian); for a foreigner, a
 * field's own `foreigners` setting (required, optional, absent) overrides `required`.
 */
export function contractFor(fields: ContractField[], kind: AccountKind): ContractField[] {
  return fields.flatMap((f) => {
    if (!fieldApplies(f.key, kind)) return [];
    if (kind === 'brazilian' || !f.foreigners) return [f];
    if (f.foreigners === 'absent') return [];
    return [{ ...f, required: f.foreigners === 'required' }];
  });
}

/** What the service store needs from the provider's storage (oidc/provider-state.ts implements it). */
export type ProviderClients = {
  /** Forgets everything the provider holds for a service (its grants, tokens, codes, interactions). */
  forgetClient(trx: Db, clientId: string): Promise<void>;
};

/** The rules that depend on the kind of service, the same the provider applies (client-types.ts). */
function check(settings: Parameters<typeof clientProblems>[0]): void {
  const problems: Problem[] = clientProblems(settings);
  if (settings.tokenEndpointAuthMethod === 'private_key_jwt' && !settings.jwks) {
    problems.push({ field: 'jwks', message: 'private_key_jwt needs the service public keys (jwks)' });
  }
  if (problems.length) throw new AppError('service.invalid', 400, { details: problems });
}

export function createServiceStore(db: Db, deps: { provider: ProviderClients }) {
  const { provider } = deps;
  async function contract(clientId: string, trx: Db = db): Promise<ContractField[]> {
    const rows = await trx
      .selectFrom('service_fields')
      .select(['field_key', 'required', 'purpose', 'foreigners'])
      .where('client_id', '=', clientId)
      .orderBy('position')
      .orderBy('field_key')
      .execute();
    return rows.map((r) => ({
      key: r.field_key,
      required: r.required,
      purpose: r.purpose,
      ...(r.foreigners ? { foreigners: r.foreigners } : {}),
    }));
  }

  async function currentTerms(clientId: string, trx: Db = db): Promise<TermsVersion | null> {
    const row = await trx
      .selectFrom('service_terms')
      .selectAll()
      .where('client_id', '=', clientId)
      .orderBy('version', 'desc')
      .limit(1)
      .executeTakeFirst();
    return row ? { version: row.version, sha256: row.sha256, text: row.text_markdown, publishedAt: row.published_at } : null;
  }

  async function find(clientId: string): Promise<Service | undefined> {
    const row = await db.selectFrom('services').selectAll().where('client_id', '=', clientId).executeTakeFirst();
    if (!row) return undefined;
    const [fields, terms] = await Promise.all([contract(clientId), currentTerms(clientId)]);
    return toService(row as never, fields, terms);
  }

  /** Publishes `text` as a new terms version unless it is the current one; earlier versions stay. */
  async function publishTerms(trx: Db, clientId: string, text: string): Promise<TermsVersion | null> {
    const current = await currentTerms(clientId, trx);
    if (current?.text === text || (!current && text === '')) return current;
    const version = (current?.version ?? (await lastTermsVersion(trx, clientId))) + 1;
    const sha256 = createHash('sha256').update(text, 'utf8').digest('hex');
    await trx.insertInto('service_terms').values({ client_id: clientId, version, text_markdown: text, sha256 }).execute();
    return { version, sha256, text, publishedAt: new Date() };
  }

  async function lastTermsVersion(trx: Db, clientId: string): Promise<number> {
    const row = await trx
      .selectFrom('service_terms')
      .select((eb) => eb.fn.max('version').as('v'))
      .where('client_id', '=', clientId)
      .executeTakeFirst();
    return Number(row?.v ?? 0);
  }

  async function writeContract(trx: Db, clientId: string, fields: ContractField[]): Promise<void> {
    await trx.deleteFrom('service_fields').where('client_id', '=', clientId).execute();
    if (fields.length === 0) return;
    await trx
      .insertInto('service_fields')
      .values(
        fields.map((f, i) => ({
          client_id: clientId,
          field_key: f.key,
          required: f.required,
          purpose: JSON.stringify(f.purpose),
          foreigners: f.foreigners ?? null,
          position: i,
        })),
      )
      .execute();
  }

  async function secretHash(clientId: string): Promise<string | null | undefined> {
    const row = await db
      .selectFrom('services')
      .select('client_secret_hash')
      .where('client_id', '=', clientId)
      .executeTakeFirst();
    return row?.client_secret_hash;
  }

  return {
    find,
    secretHash,
    contract,
    currentTerms,
    async list(): Promise<Service[]> {
      const rows = await db.selectFrom('services').select('client_id').orderBy('created_at').execute();
      return (await Promise.all(rows.map((r) => find(r.client_id)))).filter((s): s is Service => Boolean(s));
    },

    /** All published versions of a service's terms, newest first. */
    async termsHistory(clientId: string): Promise<TermsVersion[]> {
      const rows = await db
        .selectFrom('service_terms')
        .selectAll()
        .where('client_id', '=', clientId)
        .orderBy('version', 'desc')
        .execute();
      return rows.map((r) => ({ version: r.version, sha256: r.sha256, text: r.text_markdown, publishedAt: r.published_at }));
    },

    /** Creates a service; the returned secret is shown once and stored only as a hash. */
    async add(input: unknown): Promise<{ service: Service; clientSecret: string | null }> {
      const s = parse(serviceInputSchema, input);
      const tokenEndpointAuthMethod = s.tokenEndpointAuthMethod ?? (isPublic(s.type) ? 'none' : 'client_secret_basic');
      const allowedOrigins = s.allowedOrigins ?? (s.type === 'spa' ? originsOf(s.redirectUris) : []);
      check({ ...s, tokenEndpointAuthMethod, allowedOrigins });
      const clientId = s.clientId ?? `svc-${randomBytes(9).toString('base64url').toLowerCase().replace(/[^a-z0-9]/g, 'x')}`;
      // An app cannot keep a secret (RFC 8252 §8.5): none is made for it, nor for a service with its own keys.
      const clientSecret = tokenEndpointAuthMethod === 'private_key_jwt' || tokenEndpointAuthMethod === 'none' ? null : newSecret();
      try {
        await db.transaction().execute(async (trx) => {
          await trx
            .insertInto('services')
            .values({
              client_id: clientId,
              name: s.name,
              description: s.description,
              client_secret_hash: clientSecret ? hashClientSecret(clientSecret) : null,
              client_type: s.type,
              token_endpoint_auth_method: tokenEndpointAuthMethod,
              allowed_origins: allowedOrigins,
              dpop_bound_access_tokens: s.dpopBoundAccessTokens,
              jwks: s.jwks ? JSON.stringify(s.jwks) : null,
              redirect_uris: s.redirectUris,
              post_logout_redirect_uris: s.postLogoutRedirectUris,
              backchannel_logout_uri: s.backchannelLogoutUri,
              first_party: s.firstParty,
              min_trust_level: s.minTrustLevel,
              accepts_foreigners: s.acceptsForeigners,
              require_second_factor: s.requireSecondFactor,
            })
            .execute();
          await writeContract(trx, clientId, s.fields);
          await publishTerms(trx, clientId, s.termsMarkdown);
        });
      } catch (error) {
        if ((error as { code?: string }).code === '23505') throw new AppError('service.exists', 409);
        throw error;
      }
      return { service: (await find(clientId))!, clientSecret };
    },

    async update(clientId: string, input: unknown): Promise<Service> {
      const s = parse(serviceUpdateSchema, input);
      const current = await find(clientId);
      if (!current) throw new AppError('service.not_found', 404);
      if (s.type !== undefined && s.type !== current.type) {
        throw new AppError('service.invalid', 400, {
          details: [{ field: 'type', message: `the type of a service cannot change (it is ${current.type}): register a new service` }],
        });
      }
      // The rules apply to the service as it will be, not to the change alone.
      check({
        type: current.type,
        tokenEndpointAuthMethod: s.tokenEndpointAuthMethod ?? current.tokenEndpointAuthMethod,
        redirectUris: s.redirectUris ?? current.redirectUris,
        postLogoutRedirectUris: s.postLogoutRedirectUris ?? current.postLogoutRedirectUris,
        backchannelLogoutUri: s.backchannelLogoutUri !== undefined ? s.backchannelLogoutUri : current.backchannelLogoutUri,
        allowedOrigins: s.allowedOrigins ?? current.allowedOrigins,
        jwks: s.jwks !== undefined ? s.jwks : current.jwks,
      });
      await db.transaction().execute(async (trx) => {
      await trx
        .updateTable('services')
        .set({
          ...(s.name !== undefined ? { name: s.name } : {}),
          ...(s.description !== undefined ? { description: s.description } : {}),
          ...(s.redirectUris ? { redirect_uris: s.redirectUris } : {}),
          ...(s.postLogoutRedirectUris ? { post_logout_redirect_uris: s.postLogoutRedirectUris } : {}),
          ...(s.backchannelLogoutUri !== undefined ? { backchannel_logout_uri: s.backchannelLogoutUri } : {}),
          ...(s.tokenEndpointAuthMethod ? { token_endpoint_auth_method: s.tokenEndpointAuthMethod } : {}),
          ...(s.jwks !== undefined ? { jwks: s.jwks ? JSON.stringify(s.jwks) : null } : {}),
          ...(s.allowedOrigins ? { allowed_origins: s.allowedOrigins } : {}),
          ...(s.dpopBoundAccessTokens !== undefined ? { dpop_bound_access_tokens: s.dpopBoundAccessTokens } : {}),
          ...(s.minTrustLevel !== undefined ? { min_trust_level: s.minTrustLevel } : {}),
          ...(s.acceptsForeigners !== undefined ? { accepts_foreigners: s.acceptsForeigners } : {}),
          ...(s.requireSecondFactor !== undefined ? { require_second_factor: s.requireSecondFactor } : {}),
          updated_at: sql<Date>`now()`,
        })
        .where('client_id', '=', clientId)
        .execute();
        if (s.fields !== undefined) await writeContract(trx, clientId, s.fields);
        if (s.termsMarkdown !== undefined) await publishTerms(trx, clientId, s.termsMarkdown);
      });
      return (await find(clientId))!;
    },

    async rotateSecret(clientId: string): Promise<string> {
      const current = await find(clientId);
      if (!current) throw new AppError('service.not_found', 404);
      if (isPublic(current.type)) throw new AppError('service.public_no_secret', 400);
      if (current.tokenEndpointAuthMethod === 'private_key_jwt') throw new AppError('service.no_secret', 400);
      const secret = newSecret();
      await db
        .updateTable('services')
        .set({ client_secret_hash: hashClientSecret(secret), updated_at: sql<Date>`now()` })
        .where('client_id', '=', clientId)
        .execute();
      return secret;
    },

    async remove(clientId: string): Promise<void> {
      await db.transaction().execute(async (trx) => {
        const result = await trx.deleteFrom('services').where('client_id', '=', clientId).executeTakeFirst();
        if (Number(result.numDeletedRows) === 0) throw new AppError('service.not_found', 404);
        await provider.forgetClient(trx, clientId);
      });
    },

    /**
     * The metadata oidc-provider reads for a client. `client_secret` holds the hash (see oidc/).
     * One query: it runs on every authorization, token, userinfo and introspection request, and
     * needs neither the data contract nor the terms that `find` loads too.
     */
    async clientMetadata(clientId: string): Promise<Record<string, unknown> | undefined> {
      const row = await db.selectFrom('services').selectAll().where('client_id', '=', clientId).executeTakeFirst();
      if (!row) return undefined;
      const s = toService(row as never, [], null);
      const hash = row.client_secret_hash;
      return {
        client_id: s.clientId,
        client_name: s.name,
        application_type: applicationType(s.type),
        ...(hash && !isPublic(s.type) ? { client_secret: hash } : {}),
        token_endpoint_auth_method: s.tokenEndpointAuthMethod,
        ...(s.jwks ? { jwks: s.jwks } : {}),
        redirect_uris: s.redirectUris,
        post_logout_redirect_uris: s.postLogoutRedirectUris,
        ...(s.backchannelLogoutUri
          ? { backchannel_logout_uri: s.backchannelLogoutUri, backchannel_logout_session_required: true }
          : {}),
        ...(s.type === 'spa' ? { allowed_origins: s.allowedOrigins } : {}),
        ...(s.dpopBoundAccessTokens ? { dpop_bound_access_tokens: true } : {}),
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
        id_token_signed_response_alg: 'ES256',
        // Every level is acceptable to the provider itself (the service's minimum is applied by the
        // sign-in, which offers the step-up); listing them makes every ID token say its acr.
        default_acr_values: ['bronze', 'prata', 'ouro'],
      };
    },
  };
}

export type ServiceStore = ReturnType<typeof createServiceStore>;
