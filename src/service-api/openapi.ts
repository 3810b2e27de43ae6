import { z } from 'zod';

/**
 * OpenAPI 3.1 documents built from the same zod schemas the routes validate with, so the contract
 * a service developer reads cannot drift from what the server does (test/admin/openapi.test.ts
 * checks every registered route is in it and every documented answer can happen).
 */

export type HttpMethod = 'get' | 'post' | 'put' | 'patch' | 'delete';

export type ApiResponse = {
  description: string;
  /** The body's schema (JSON); absent for an empty body. */
  schema?: z.ZodType;
  headers?: Record<string, { description: string; required?: boolean }>;
};

export type ApiOperation = {
  method: HttpMethod;
  /** Fastify's form, `/admin/api/services/:id`. */
  path: string;
  operationId: string;
  summary: string;
  description?: string;
  tags?: string[];
  /** Names in `securitySchemes`; empty: no authentication. */
  security: string[];
  params?: Record<string, string>;
  body?: { schema: z.ZodType; description?: string; contentType?: string };
  responses: Record<number, ApiResponse>;
};

export type ApiContract = {
  title: string;
  version: string;
  description: string;
  securitySchemes: Record<string, Record<string, unknown>>;
  /** Schemas shown once under components (referenced by identity wherever they are used). */
  schemas: Record<string, z.ZodType>;
  operations: ApiOperation[];
};

/** The error body of every refusal from our own error handler: a stable code (also an i18n key). */
export const errorBody = z
  .object({ error: z.string().describe('a stable code, for example `service.not_found`') })
  .catchall(z.unknown())
  .meta({
    description: 'An error: `error` is a stable code; some carry details (`details`, `fields`, `reason`).',
  });

/** Answers every route may give, besides its own (added to each operation by `commonAnswers`). */
export const COMMON_ANSWERS = {
  badRequest: {
    description: '`error.bad_request`: the body is not well-formed JSON, or carries a NUL character (U+0000)',
    schema: errorBody,
  },
  tooLarge: { description: '`error.too_large`: the body is over the route’s limit', schema: errorBody },
  unsupported: {
    description: '`error.bad_request`: the body’s content type is not `application/json`',
    schema: errorBody,
  },
  unavailable: {
    description:
      '`error.unavailable`: a dependency (the database) could not be reached; try again after `Retry-After`',
    schema: errorBody,
    headers: { 'retry-after': { description: 'seconds to wait before trying again', required: true } },
  },
} satisfies Record<string, ApiResponse>;

function jsonSchema(schema: z.ZodType, io: 'input' | 'output'): Record<string, unknown> {
  const { $schema: _, ...rest } = z.toJSONSchema(schema, {
    target: 'draft-2020-12',
    io,
    // Refinements (a URL's scheme, a date in the past, …) are checked by the route and described in
    // words; the document carries the shape.
    unrepresentable: 'any',
  }) as Record<string, unknown>;
  return rest;
}

/** `/a/:id/b` → `/a/{id}/b` */
export function openApiPath(path: string): string {
  return path.replace(/:(\w+)/g, '{$1}');
}

export function buildOpenApi(contract: ApiContract): Record<string, unknown> {
  const named = new Map<z.ZodType, string>();
  for (const [name, schema] of Object.entries(contract.schemas)) named.set(schema, name);
  const components: Record<string, unknown> = {};
  const ref = (schema: z.ZodType, io: 'input' | 'output') => {
    const name = named.get(schema);
    if (!name) return jsonSchema(schema, io);
    components[name] ??= jsonSchema(schema, io);
    return { $ref: `#/components/schemas/${name}` };
  };

  const paths: Record<string, Record<string, unknown>> = {};
  for (const op of contract.operations) {
    const responses: Record<string, unknown> = {};
    for (const [status, answer] of Object.entries(op.responses)) {
      responses[status] = {
        description: answer.description,
        ...(answer.headers
          ? {
              headers: Object.fromEntries(
                Object.entries(answer.headers).map(([h, d]) => [
                  h,
                  { description: d.description, required: d.required ?? false, schema: { type: 'string' } },
                ]),
              ),
            }
          : {}),
        ...(answer.schema
          ? { content: { 'application/json': { schema: ref(answer.schema, 'output') } } }
          : {}),
      };
    }
    const parameters = Object.entries(op.params ?? {}).map(([name, description]) => ({
      name,
      in: 'path',
      required: true,
      description,
      schema: { type: 'string' },
    }));
    const path = openApiPath(op.path);
    paths[path] ??= {};
    paths[path][op.method] = {
      operationId: op.operationId,
      summary: op.summary,
      ...(op.description ? { description: op.description } : {}),
      ...(op.tags ? { tags: op.tags } : {}),
      security: op.security.map((name) => ({ [name]: [] })),
      ...(parameters.length ? { parameters } : {}),
      ...(op.body
        ? {
            requestBody: {
              required: true,
              ...(op.body.description ? { description: op.body.description } : {}),
              content: {
                [op.body.contentType ?? 'application/json']: { schema: ref(op.body.schema, 'input') },
              },
            },
          }
        : {}),
      responses,
    };
  }
  return {
    openapi: '3.1.0',
    info: { title: contract.title, version: contract.version, description: contract.description },
    jsonSchemaDialect: 'https://json-schema.org/draft/2020-12/schema',
    paths,
    components: {
      securitySchemes: contract.securitySchemes,
      ...(Object.keys(components).length ? { schemas: sortKeys(components) } : {}),
    },
  };
}

function sortKeys(o: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).sort(([a], [b]) => a.localeCompare(b)));
}
