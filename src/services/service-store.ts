import { createHash, randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import { z } from 'zod';
import type { Db } from '../db/database.ts';
import type { ServicesTable } from '../db/schema.ts';
import { AppError } from '../http/errors.ts';

export type Service = {
  clientId: string;
  name: string;
  description: string;
  tokenEndpointAuthMethod: 'client_secret_basic' | 'client_secret_post' | 'private_key_jwt';
  redirectUris: string[];
  postLogoutRedirectUris: string[];
  backchannelLogoutUri: string | null;
  jwks: { keys: unknown[] } | null;
  termsMarkdown: string;
  createdAt: Date;
  updatedAt: Date;
};

const uri = z
  .string()
  .max(2000)
  .refine((value) => {
    const u = URL.parse(value);
    if (!u || u.hash) return false;
    const loopback = ['localhost', '127.0.0.1', '[::1]'].includes(u.hostname);
    return u.protocol === 'https:' || (u.protocol === 'http:' && loopback) || /^[a-z][a-z0-9+.-]*\.[a-z0-9+.-]+:$/.test(u.protocol);
  }, 'must be an absolute https URI (http only on loopback) without a fragment');

export const serviceInputSchema = z
  .object({
    clientId: z
      .string()
      .regex(/^[a-z0-9][a-z0-9-]{2,62}$/, 'lower-case letters, digits and hyphens, 3 to 63 characters')
      .optional(),
    name: z.string().trim().min(1).max(120),
    description: z.string().trim().max(2000).default(''),
    redirectUris: z.array(uri).min(1).max(20),
    postLogoutRedirectUris: z.array(uri).max(20).default([]),
    backchannelLogoutUri: uri.nullable().default(null),
    tokenEndpointAuthMethod: z
      .enum(['client_secret_basic', 'client_secret_post', 'private_key_jwt'])
      .default('client_secret_basic'),
    jwks: z
      .object({ keys: z.array(z.record(z.string(), z.unknown())).min(1).max(10) })
      .nullable()
      .default(null),
    termsMarkdown: z.string().max(100_000).default(''),
  })
  .strict()
  .refine((s) => s.tokenEndpointAuthMethod !== 'private_key_jwt' || s.jwks, {
    message: 'private_key_jwt needs the service public keys (jwks)',
    path: ['jwks'],
  });

export type ServiceInput = z.input<typeof serviceInputSchema>;
export const serviceUpdateSchema = z
  .object({
    name: z.string().trim().min(1).max(120),
    description: z.string().trim().max(2000),
    redirectUris: z.array(uri).min(1).max(20),
    postLogoutRedirectUris: z.array(uri).max(20),
    backchannelLogoutUri: uri.nullable(),
    tokenEndpointAuthMethod: z.enum(['client_secret_basic', 'client_secret_post', 'private_key_jwt']),
    jwks: z.object({ keys: z.array(z.record(z.string(), z.unknown())).min(1).max(10) }).nullable(),
    termsMarkdown: z.string().max(100_000),
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

function toService(row: ServicesTable & Record<string, unknown>): Service {
  return {
    clientId: row.client_id,
    name: row.name,
    description: row.description as unknown as string,
    tokenEndpointAuthMethod: row.token_endpoint_auth_method as unknown as Service['tokenEndpointAuthMethod'],
    redirectUris: row.redirect_uris,
    postLogoutRedirectUris: row.post_logout_redirect_uris as unknown as string[],
    backchannelLogoutUri: row.backchannel_logout_uri,
    jwks: row.jwks as unknown as Service['jwks'],
    termsMarkdown: row.terms_markdown as unknown as string,
    createdAt: row.created_at as unknown as Date,
    updatedAt: row.updated_at as unknown as Date,
  };
}

function parse<T>(schema: z.ZodType<T>, input: unknown): T {
  const parsed = schema.safeParse(input);
  if (!parsed.success) {
    const details = parsed.error.issues.map((i) => ({ field: i.path.join('.'), message: i.message }));
    throw new AppError('service.invalid', 400, { details });
  }
  return parsed.data;
}

export function createServiceStore(db: Db) {
  async function find(clientId: string): Promise<Service | undefined> {
    const row = await db.selectFrom('services').selectAll().where('client_id', '=', clientId).executeTakeFirst();
    return row ? toService(row as never) : undefined;
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
    async list(): Promise<Service[]> {
      const rows = await db.selectFrom('services').selectAll().orderBy('created_at').execute();
      return rows.map((r) => toService(r as never));
    },

    /** Creates a service; the returned secret is shown once and stored only as a hash. */
    async add(input: unknown): Promise<{ service: Service; clientSecret: string | null }> {
      const s = parse(serviceInputSchema, input);
      const clientId = s.clientId ?? `svc-${randomBytes(9).toString('base64url').toLowerCase().replace(/[^a-z0-9]/g, 'x')}`;
      const clientSecret = s.tokenEndpointAuthMethod === 'private_key_jwt' ? null : newSecret();
      try {
        await db
          .insertInto('services')
          .values({
            client_id: clientId,
            name: s.name,
            description: s.description,
            client_secret_hash: clientSecret ? hashClientSecret(clientSecret) : null,
            token_endpoint_auth_method: s.tokenEndpointAuthMethod,
            jwks: s.jwks ? JSON.stringify(s.jwks) : null,
            redirect_uris: s.redirectUris,
            post_logout_redirect_uris: s.postLogoutRedirectUris,
            backchannel_logout_uri: s.backchannelLogoutUri,
            terms_markdown: s.termsMarkdown,
          })
          .execute();
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
      const method = s.tokenEndpointAuthMethod ?? current.tokenEndpointAuthMethod;
      const jwks = s.jwks !== undefined ? s.jwks : current.jwks;
      if (method === 'private_key_jwt' && !jwks) {
        throw new AppError('service.invalid', 400, {
          details: [{ field: 'jwks', message: 'private_key_jwt needs the service public keys (jwks)' }],
        });
      }
      await db
        .updateTable('services')
        .set({
          ...(s.name !== undefined ? { name: s.name } : {}),
          ...(s.description !== undefined ? { description: s.description } : {}),
          ...(s.redirectUris ? { redirect_uris: s.redirectUris } : {}),
          ...(s.postLogoutRedirectUris ? { post_logout_redirect_uris: s.postLogoutRedirectUris } : {}),
          ...(s.backchannelLogoutUri !== undefined ? { backchannel_logout_uri: s.backchannelLogoutUri } : {}),
          ...(s.tokenEndpointAuthMethod ? { token_endpoint_auth_method: s.tokenEndpointAuthMethod } : {}),
          ...(s.jwks !== undefined ? { jwks: s.jwks ? JSON.stringify(s.jwks) : null } : {}),
          ...(s.termsMarkdown !== undefined ? { terms_markdown: s.termsMarkdown } : {}),
          updated_at: sql<Date>`now()`,
        })
        .where('client_id', '=', clientId)
        .execute();
      return (await find(clientId))!;
    },

    async rotateSecret(clientId: string): Promise<string> {
      const current = await find(clientId);
      if (!current) throw new AppError('service.not_found', 404);
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
      const result = await db.deleteFrom('services').where('client_id', '=', clientId).executeTakeFirst();
      if (Number(result.numDeletedRows) === 0) throw new AppError('service.not_found', 404);
      await db
        .deleteFrom('oidc_payloads')
        .where(sql<boolean>`payload->>'clientId' = ${clientId}`)
        .execute();
    },

    /** The metadata oidc-provider reads for a client. `client_secret` holds the hash (see oidc/). */
    async clientMetadata(clientId: string): Promise<Record<string, unknown> | undefined> {
      const s = await find(clientId);
      if (!s) return undefined;
      const hash = await secretHash(clientId);
      return {
        client_id: s.clientId,
        client_name: s.name,
        ...(hash ? { client_secret: hash } : {}),
        token_endpoint_auth_method: s.tokenEndpointAuthMethod,
        ...(s.jwks ? { jwks: s.jwks } : {}),
        redirect_uris: s.redirectUris,
        post_logout_redirect_uris: s.postLogoutRedirectUris,
        ...(s.backchannelLogoutUri
          ? { backchannel_logout_uri: s.backchannelLogoutUri, backchannel_logout_session_required: true }
          : {}),
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
        id_token_signed_response_alg: 'ES256',
      };
    },
  };
}

export type ServiceStore = ReturnType<typeof createServiceStore>;
