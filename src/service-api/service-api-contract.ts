import { z } from 'zod';
import { POLL_BODY_LIMIT, POLL_PATH, pollRequestSchema } from '../events/poll-routes.ts';
import { type ApiContract, type ApiOperation, COMMON_ANSWERS, errorBody } from './openapi.ts';
import {
  WRITE_BACK_BODY_LIMIT,
  WRITE_BACK_PATH,
  WRITE_SCOPE,
  writeBackBodySchema,
} from './write-back-routes.ts';

/**
 * The API integrated services call (`GET /api/v1/openapi.json`, docs/api/): polling their event
 * queue (RFC 8936) and writing a citizen's data back. Signing in is OpenID Connect, described by
 * the provider's discovery document, not here.
 */

const pollError = z
  .strictObject({ err: z.string(), description: z.string() })
  .meta({ description: 'An RFC 8936 error: `err` is `invalid_request` or `authentication_failed`.' });

const bearerError = z.strictObject({ error: z.string(), error_description: z.string() });

const writeBackAnswer = z.strictObject({
  updated: z.array(z.string()).describe('claims stored now'),
  pending_confirmation: z
    .array(z.string())
    .optional()
    .describe(
      'claims proposed to the citizen (a code sent to the new address); they change when the citizen proves it',
    ),
  not_proposed: z
    .array(z.string())
    .optional()
    .describe('claims not proposed: too many codes to that citizen or address for now; try another day'),
  claims: z.record(z.string(), z.unknown()).describe('`sub` and the claims the citizen shares with you'),
});

export const SERVICE_OPERATIONS: ApiOperation[] = [
  {
    tags: ['events'],
    method: 'post',
    path: POLL_PATH,
    operationId: 'pollEvents',
    summary: 'Fetch pending Security Event Tokens and acknowledge processed ones (RFC 8936)',
    description:
      'For services whose delivery is `poll` (the default). SETs not acknowledged come again, oldest first. Without `returnImmediately` the call waits up to 10 s for something to arrive (long polling). Verify each SET with the provider’s JWKS (`typ: secevent+jwt`); see docs/integration-events.md.',
    security: ['clientSecretBasic'],
    body: { schema: pollRequestSchema, description: `at most ${POLL_BODY_LIMIT / 1024} KiB` },
    responses: {
      200: {
        description: 'the pending SETs by `jti` (at most `maxEvents`), and whether more are waiting',
        schema: z.strictObject({
          sets: z.record(z.string(), z.string()).describe('jti → the signed SET (compact JWS)'),
          moreAvailable: z.boolean(),
        }),
      },
      400: {
        description:
          '`invalid_request`: the body does not fit the schema, or the service receives its events another way; or `error.bad_request` (malformed JSON)',
        schema: z.union([pollError, errorBody]),
      },
      401: {
        description: '`authentication_failed`: no or wrong client credentials',
        schema: pollError,
        headers: { 'www-authenticate': { description: '`Basic realm="cidadela-events"`', required: true } },
      },
      413: COMMON_ANSWERS.tooLarge,
      415: COMMON_ANSWERS.unsupported,
      503: COMMON_ANSWERS.unavailable,
    },
  },
  {
    tags: ['write-back'],
    method: 'patch',
    path: WRITE_BACK_PATH,
    operationId: 'writeBack',
    summary: 'Write a citizen’s changed data back to Cidadela',
    description: `With the citizen’s access token carrying the \`${WRITE_SCOPE}\` scope (asked for in the authorization request next to \`openid\`). Each value is validated as Cidadela’s own forms validate it. The change reaches every other consented service; the writing service gets no echo.`,
    security: ['citizenAccessToken'],
    body: { schema: writeBackBodySchema, description: `at most ${WRITE_BACK_BODY_LIMIT / 1024} KiB` },
    responses: {
      200: {
        description:
          'stored; `updated` lists the claims that really changed (a value equal to the stored one is not an update), `claims` is what you now receive',
        schema: writeBackAnswer,
      },
      202: {
        description:
          'an `email` or `phone_number` is only proposed: a code went to the new address and it becomes the citizen’s when they prove it (`pending_confirmation`); the other claims are stored as for 200',
        schema: writeBackAnswer,
      },
      400: {
        description:
          '`write_back.invalid` with `fields` (`{"address": {"error": "field.address.invalid", "inputs": {…}}}`, `field.unknown`); `body.empty`; `body.invalid` (not a JSON object); `error.bad_request` (malformed JSON)',
        schema: errorBody,
      },
      401: {
        description: '`invalid_token`: no token, or an expired, revoked or unknown one',
        schema: bearerError,
        headers: {
          'www-authenticate': {
            description: '`Bearer realm="cidadela", error="invalid_token", …`',
            required: true,
          },
        },
      },
      403: {
        description: `\`insufficient_scope\` (the token lacks \`${WRITE_SCOPE}\`); \`write_back.refused\` with \`fields\` (\`field.not_in_contract\`, \`field.not_shared\`, \`field.not_editable\`); \`consent.missing\` (the citizen revoked consent); \`insufficient_scope\` also when the citizen has not consented to write access`,
        schema: z.union([bearerError, errorBody]),
      },
      413: COMMON_ANSWERS.tooLarge,
      415: { description: '`body.json_required`: the body is not `application/json`', schema: errorBody },
      503: COMMON_ANSWERS.unavailable,
    },
  },
  {
    tags: ['contract'],
    method: 'get',
    path: '/api/v1/openapi.json',
    operationId: 'serviceOpenApi',
    summary: 'This document',
    security: [],
    responses: {
      200: { description: 'OpenAPI 3.1', schema: z.object({ openapi: z.literal('3.1.0') }).loose() },
    },
  },
];

export const SERVICE_API: ApiContract = {
  title: 'Cidadela service API',
  version: '1',
  description:
    'What an integrated service calls besides OpenID Connect: its event queue by polling (RFC 8936) and write-back of a citizen’s data. Guides: docs/integration.md and docs/integration-events.md.',
  securitySchemes: {
    clientSecretBasic: {
      type: 'http',
      scheme: 'basic',
      description:
        'the service’s `client_id` and `client_secret`, form-urlencoded then base64 (as at the token endpoint)',
    },
    citizenAccessToken: {
      type: 'http',
      scheme: 'bearer',
      description: `an access token the service obtained for the citizen with the \`${WRITE_SCOPE}\` scope`,
    },
  },
  schemas: {
    Error: errorBody,
    PollError: pollError,
    WriteBack: writeBackBodySchema,
    PollRequest: pollRequestSchema,
  },
  operations: SERVICE_OPERATIONS,
};
