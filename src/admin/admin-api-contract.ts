import { z } from 'zod';
import { deliverySettingsSchema } from '../events/stream-store.ts';
import { type ApiContract, type ApiOperation, COMMON_ANSWERS, errorBody } from '../service-api/openapi.ts';
import { AUTH_METHODS, CLIENT_TYPES } from '../services/client-types.ts';
import { serviceInputSchema, serviceUpdateSchema } from '../services/service-store.ts';
import { ADMIN_BODY_LIMIT } from './admin-routes.ts';
import { QUEUE_BODY_LIMIT, replayRequestSchema } from './queue-routes.ts';

/**
 * The operator's admin API as an OpenAPI contract (`GET /admin/api/openapi.json`, docs/api/).
 * Request bodies are the schemas the stores and routes validate with; responses are what the
 * routes send (the contract test checks each answer against them).
 */

const dateTime = z.iso.datetime();
const SERVICE_ID = { id: 'the service’s `client_id`' };
const kib = (bytes: number) => `${bytes / 1024} KiB`;

const contractFieldView = z.strictObject({
  key: z.string().describe('a catalog field key (`cidadela service fields`)'),
  required: z.boolean(),
  purpose: z
    .record(z.string(), z.string())
    .describe('why the service asks for it, per language (pt-BR always)'),
});

export const serviceView = z
  .strictObject({
    clientId: z.string(),
    name: z.string(),
    description: z.string(),
    type: z.enum(CLIENT_TYPES).describe('confidential (a server), native (an app) or spa (a browser app)'),
    redirectUris: z.array(z.string()),
    postLogoutRedirectUris: z.array(z.string()),
    backchannelLogoutUri: z.string().nullable(),
    tokenEndpointAuthMethod: z.enum(AUTH_METHODS),
    jwks: z.object({ keys: z.array(z.record(z.string(), z.unknown())) }).nullable(),
    allowedOrigins: z
      .array(z.string())
      .describe('origins allowed to call the token endpoint from a browser (spa)'),
    dpopBoundAccessTokens: z.boolean(),
    minTrustLevel: z
      .enum(['bronze', 'prata', 'ouro'])
      .describe('the lowest trust level (acr) accepted; a citizen below it is offered the step-up'),
    acceptsForeigners: z.boolean().describe('accounts without a CPF (foreigners) may sign in'),
    requireSecondFactor: z
      .boolean()
      .describe('every sign-in passes a second step (authenticator code, passkey or certificate); a citizen without one is offered to add one'),
    termsMarkdown: z.string().describe('the current terms of use (empty when none were published)'),
    terms: z
      .strictObject({ version: z.number().int(), sha256: z.string(), publishedAt: dateTime })
      .nullable()
      .describe('the current terms version'),
    fields: z.array(contractFieldView).describe('the data contract'),
    firstParty: z.boolean(),
    createdAt: dateTime,
    updatedAt: dateTime,
  })
  .meta({ description: 'An integrated service as the operator sees it.' });

export const queueView = z
  .strictObject({
    clientId: z.string(),
    method: z.enum(['poll', 'amqp', 'push']),
    pushUrl: z.string().nullable(),
    amqpQueue: z.string().nullable().describe('the RabbitMQ queue (amqp only)'),
    depth: z.number().int().describe('deliveries not yet delivered'),
    oldestPendingAt: dateTime.nullable(),
    oldestPendingAgeSeconds: z.number().int().nullable(),
    lastDeliveryAt: dateTime.nullable(),
    failedDeliveries: z.number().int().describe('rejected by the service (poll `setErrs`)'),
    consecutiveFailures: z.number().int(),
    lastError: z.string().nullable(),
    paused: z.boolean().describe('a push stream paused after repeated failures, until resumed'),
    pausedAt: dateTime.nullable(),
    nextAttemptAt: dateTime.nullable(),
  })
  .meta({ description: 'A service’s event queue.' });

const deliveryView = z.strictObject({
  method: z.enum(['poll', 'amqp', 'push']),
  pushUrl: z.string().nullable(),
});

const amqpQueuesView = z
  .strictObject({
    queue: z.string(),
    deadLetterQueue: z.string(),
    declared: z
      .boolean()
      .describe(
        'declared on the broker now (false: no AMQP_URL here; the relay declares them on its first delivery)',
      ),
  })
  .nullable();

const unauthorized = {
  description: 'no `Authorization: Bearer $ADMIN_TOKEN`, or a wrong one',
  schema: z.strictObject({ error: z.literal('unauthorized') }),
  headers: { 'www-authenticate': { description: '`Bearer realm="cidadela-admin"`', required: true } },
};
const notFound = { description: '`service.not_found`', schema: errorBody };
const builtIn = {
  description:
    '`service.built_in`: the account pages’ own service (`cidadela-conta`) can be read, never changed',
  schema: errorBody,
};
const invalidService = {
  description:
    '`service.invalid`, with `details`: `[{"field": "redirectUris.0", "message": "…"}]` naming each field at fault; or `error.bad_request`',
  schema: errorBody,
};

const admin = (op: Omit<ApiOperation, 'security' | 'tags'> & { tags?: string[] }): ApiOperation => ({
  tags: ['services'],
  security: ['adminToken'],
  ...op,
});

/** Every route of the admin API (the contract test fails for one registered and not listed here). */
export const ADMIN_OPERATIONS: ApiOperation[] = [
  admin({
    method: 'get',
    path: '/admin/api/services',
    operationId: 'listServices',
    summary: 'List the integrated services',
    responses: {
      200: { description: 'every service', schema: z.strictObject({ services: z.array(serviceView) }) },
      401: unauthorized,
      503: COMMON_ANSWERS.unavailable,
    },
  }),
  admin({
    method: 'post',
    path: '/admin/api/services',
    operationId: 'addService',
    summary: 'Register a service',
    description:
      'The same as `cidadela service add`. The client secret is in this answer only (stored hashed); `null` for `private_key_jwt`.',
    body: { schema: serviceInputSchema, description: `at most ${kib(ADMIN_BODY_LIMIT)}` },
    responses: {
      201: {
        description: 'registered',
        schema: z.strictObject({ service: serviceView, clientSecret: z.string().nullable() }),
      },
      400: invalidService,
      401: unauthorized,
      409: { description: '`service.exists`: the `clientId` is taken', schema: errorBody },
      413: COMMON_ANSWERS.tooLarge,
      415: COMMON_ANSWERS.unsupported,
      503: COMMON_ANSWERS.unavailable,
    },
  }),
  admin({
    method: 'get',
    path: '/admin/api/services/:id',
    operationId: 'getService',
    summary: 'One service',
    params: SERVICE_ID,
    responses: {
      200: { description: 'the service', schema: z.strictObject({ service: serviceView }) },
      401: unauthorized,
      404: notFound,
      503: COMMON_ANSWERS.unavailable,
    },
  }),
  admin({
    method: 'patch',
    path: '/admin/api/services/:id',
    operationId: 'updateService',
    summary: 'Change a service',
    description:
      'Only the members given change. New `termsMarkdown`, or a field added to `fields`, publishes a new terms version: each citizen is asked to accept again at their next access.',
    params: SERVICE_ID,
    body: { schema: serviceUpdateSchema, description: `at most ${kib(ADMIN_BODY_LIMIT)}` },
    responses: {
      200: { description: 'the service as it now is', schema: z.strictObject({ service: serviceView }) },
      400: invalidService,
      401: unauthorized,
      403: builtIn,
      404: notFound,
      413: COMMON_ANSWERS.tooLarge,
      415: COMMON_ANSWERS.unsupported,
      503: COMMON_ANSWERS.unavailable,
    },
  }),
  admin({
    method: 'delete',
    path: '/admin/api/services/:id',
    operationId: 'removeService',
    summary: 'Remove a service',
    description: 'Its clients, grants and tokens stop working at once.',
    params: SERVICE_ID,
    responses: {
      204: { description: 'removed' },
      401: unauthorized,
      403: builtIn,
      404: notFound,
      503: COMMON_ANSWERS.unavailable,
    },
  }),
  admin({
    method: 'get',
    path: '/admin/api/services/:id/terms',
    operationId: 'listTermsVersions',
    summary: 'Every terms version of a service, newest first',
    params: SERVICE_ID,
    responses: {
      200: {
        description: 'the versions (each immutable, with its SHA-256)',
        schema: z.strictObject({
          versions: z.array(
            z.strictObject({
              version: z.number().int(),
              sha256: z.string(),
              text: z.string(),
              publishedAt: dateTime,
            }),
          ),
        }),
      },
      401: unauthorized,
      404: notFound,
      503: COMMON_ANSWERS.unavailable,
    },
  }),
  admin({
    method: 'post',
    path: '/admin/api/services/:id/rotate-secret',
    operationId: 'rotateServiceSecret',
    summary: 'A new client secret',
    description: 'The old one stops working at once. The new one is in this answer only.',
    params: SERVICE_ID,
    responses: {
      200: { description: 'the new secret', schema: z.strictObject({ clientSecret: z.string() }) },
      400: {
        description: '`service.no_secret`: the service has no secret (`private_key_jwt`, or an app)',
        schema: errorBody,
      },
      401: unauthorized,
      403: builtIn,
      404: notFound,
      503: COMMON_ANSWERS.unavailable,
    },
  }),
  admin({
    tags: ['events'],
    method: 'get',
    path: '/admin/api/services/:id/queue',
    operationId: 'getQueue',
    summary: 'A service’s event queue: depth, oldest pending, last delivery, failures, pause',
    params: SERVICE_ID,
    responses: {
      200: { description: 'the queue', schema: z.strictObject({ queue: queueView }) },
      401: unauthorized,
      404: notFound,
      503: COMMON_ANSWERS.unavailable,
    },
  }),
  admin({
    tags: ['events'],
    method: 'post',
    path: '/admin/api/services/:id/queue/resume',
    operationId: 'resumeQueue',
    summary: 'Resume a paused push stream',
    description: 'The relay tries again at once, from the oldest pending delivery.',
    params: SERVICE_ID,
    responses: {
      200: {
        description: '`resumed`: whether it was paused',
        schema: z.strictObject({ resumed: z.boolean(), queue: queueView }),
      },
      401: unauthorized,
      404: notFound,
      503: COMMON_ANSWERS.unavailable,
    },
  }),
  admin({
    tags: ['events'],
    method: 'post',
    path: '/admin/api/services/:id/queue/replay',
    operationId: 'replayQueue',
    summary: 'Deliver again everything since a time',
    description:
      'In the original order and with the original `jti`s (a purged citizen’s claim changes excepted).',
    params: SERVICE_ID,
    body: { schema: replayRequestSchema, description: `at most ${kib(QUEUE_BODY_LIMIT)}` },
    responses: {
      200: {
        description: '`replayed`: how many deliveries will be delivered again',
        schema: z.strictObject({ replayed: z.number().int(), queue: queueView }),
      },
      400: { description: '`replay.invalid_since`, or `error.bad_request`', schema: errorBody },
      401: unauthorized,
      404: notFound,
      413: COMMON_ANSWERS.tooLarge,
      415: COMMON_ANSWERS.unsupported,
      503: COMMON_ANSWERS.unavailable,
    },
  }),
  admin({
    tags: ['events'],
    method: 'get',
    path: '/admin/api/services/:id/delivery',
    operationId: 'getDelivery',
    summary: 'How a service receives its events',
    params: SERVICE_ID,
    responses: {
      200: { description: 'the delivery method', schema: z.strictObject({ delivery: deliveryView }) },
      401: unauthorized,
      404: notFound,
      503: COMMON_ANSWERS.unavailable,
    },
  }),
  admin({
    tags: ['events'],
    method: 'put',
    path: '/admin/api/services/:id/delivery',
    operationId: 'setDelivery',
    summary: 'Set how a service receives its events: poll, amqp or push',
    description:
      '`amqp`: the service’s quorum queue `cidadela.<client_id>` and its dead-letter queue are declared now (when `AMQP_URL` is set), so its consumer can start before the first event. `push` needs `pushUrl` (https; http only on loopback). A new method starts with a clean slate (not paused, no failures).',
    params: SERVICE_ID,
    body: { schema: deliverySettingsSchema, description: `at most ${kib(QUEUE_BODY_LIMIT)}` },
    responses: {
      200: {
        description: 'set; `queues` names the RabbitMQ queues (amqp only)',
        schema: z.strictObject({ delivery: deliveryView, queues: amqpQueuesView }),
      },
      400: {
        description:
          '`service.invalid` with `details` (an unknown method, push without `pushUrl`, …), or `error.bad_request`',
        schema: errorBody,
      },
      401: unauthorized,
      404: notFound,
      413: COMMON_ANSWERS.tooLarge,
      415: COMMON_ANSWERS.unsupported,
      503: {
        description:
          '`broker.unavailable` (with `reason`): the broker could not declare the queues, nothing changed; or `error.unavailable`. Try again after `Retry-After`',
        schema: errorBody,
        headers: COMMON_ANSWERS.unavailable.headers,
      },
    },
  }),
  admin({
    tags: ['events'],
    method: 'post',
    path: '/admin/api/services/:id/broker-credentials',
    operationId: 'createBrokerCredentials',
    summary: 'The service’s own RabbitMQ user (read-only on its two queues)',
    description:
      'Creates the user, or gives it a new password, through the RabbitMQ management API (`AMQP_MANAGEMENT_URL`). The password is in this answer only.',
    params: SERVICE_ID,
    responses: {
      201: {
        description: 'the account',
        schema: z.strictObject({
          account: z.strictObject({
            username: z.string(),
            password: z.string(),
            vhost: z.string(),
            queue: z.string(),
            deadLetterQueue: z.string(),
          }),
        }),
      },
      401: unauthorized,
      404: notFound,
      409: {
        description:
          '`broker.management_not_configured`: no `AMQP_MANAGEMENT_URL`; `instructions` has the `rabbitmqctl` commands to do it by hand',
        schema: z.strictObject({
          error: z.literal('broker.management_not_configured'),
          instructions: z.string(),
        }),
      },
      503: {
        description:
          '`broker.unavailable` (with `reason`): the management API failed; or `error.unavailable`',
        schema: errorBody,
        headers: COMMON_ANSWERS.unavailable.headers,
      },
    },
  }),
  {
    tags: ['contract'],
    method: 'get',
    path: '/admin/api/openapi.json',
    operationId: 'adminOpenApi',
    summary: 'This document',
    security: [],
    responses: {
      200: { description: 'OpenAPI 3.1', schema: z.object({ openapi: z.literal('3.1.0') }).loose() },
    },
  },
];

export const ADMIN_API: ApiContract = {
  title: 'Cidadela admin API',
  version: '1',
  description:
    'The operator’s JSON API: integrated services, their terms and data contracts, and their event queues. It is on only when `ADMIN_TOKEN` is set; every call but this document carries `Authorization: Bearer $ADMIN_TOKEN`. The `cidadela` command does the same on the server’s machine. Errors are `{"error": "<code>", …}` with a stable code.',
  securitySchemes: {
    adminToken: { type: 'http', scheme: 'bearer', description: 'the server’s `ADMIN_TOKEN`' },
  },
  schemas: { Service: serviceView, Queue: queueView, Error: errorBody },
  operations: ADMIN_OPERATIONS,
};
