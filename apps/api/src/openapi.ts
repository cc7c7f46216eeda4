/**
 * @module
 * The OpenAPI 3.1 document, generated from the route table and its zod schemas (zod 4's
 * `toJSONSchema` emits JSON Schema 2020-12, which is OpenAPI 3.1's dialect). The committed copy
 * (apps/api/openapi.json) is checked against this in a test; `UPDATE_OPENAPI=1` rewrites it.
 */
import { z } from "zod";
import { type Method, openApiPath, type Route } from "./http/route.js";
import { ErrorDetail, requestSchemas, responseSchemas, ValidationErrors } from "./schemas.js";

type Json = Record<string, unknown>;

const COMPONENT = "#/components/schemas/";
const uri = (id: string) => `${COMPONENT}${id}`;

const HTTP_METHOD: Record<Method, string> = {
  get: "get",
  post: "post",
  put: "put",
  patch: "patch",
  del: "delete",
};

/** Drops the per-schema `$schema`/`$id` that zod adds to every generated definition. */
function clean(schema: Json): Json {
  const { $schema: _s, $id: _i, ...rest } = schema;
  return rest;
}

function ref(registry: typeof requestSchemas, schema: z.ZodType, what: string): Json {
  const meta = registry.get(schema);
  if (meta === undefined) throw new Error(`openapi: ${what} schema is not registered with an id`);
  return { $ref: uri(meta.id) };
}

function parameters(schema: z.ZodType | undefined, where: "path" | "query"): Json[] {
  if (schema === undefined) return [];
  const json = clean(z.toJSONSchema(schema, { io: "input" }) as Json);
  const properties = (json.properties ?? {}) as Record<string, Json>;
  const required = new Set((json.required ?? []) as string[]);
  return Object.entries(properties).map(([name, property]) => {
    const { description, ...rest } = property;
    return {
      name,
      in: where,
      required: where === "path" || required.has(name),
      ...(description === undefined ? {} : { description }),
      schema: rest,
    };
  });
}

function errorResponse(status: number, description: string): Json {
  const schema = status === 422 || status === 409 ? ValidationErrors : ErrorDetail;
  return {
    description,
    content: { "application/json": { schema: ref(responseSchemas, schema, String(status)) } },
  };
}

function operation(route: Route): Json {
  const responses: Record<string, Json> = {};
  for (const [status, doc] of Object.entries(route.doc.responses)) {
    const code = Number(status);
    if (code >= 400) responses[status] = errorResponse(code, doc.description);
    else if (doc.schema === undefined) responses[status] = { description: doc.description };
    else
      responses[status] = {
        description: doc.description,
        content: {
          "application/json": { schema: ref(responseSchemas, doc.schema, `${route.path} ${status}`) },
        },
      };
  }
  const generic: [number, string, boolean][] = [
    [400, "Malformed JSON body", route.body !== undefined],
    [401, "Missing, invalid, expired or revoked auth token", route.auth === true],
    [401, "Missing or wrong ADMIN_TOKEN", route.auth === "admin"],
    [404, "ADMIN_TOKEN is not configured on this node", route.auth === "admin"],
    [413, "Body too large", route.body !== undefined],
    [
      422,
      "Validation failed",
      route.body !== undefined || route.query !== undefined || route.params !== undefined,
    ],
    [429, "Rate limited; see Retry-After", route.ipLimit !== undefined],
  ];
  for (const [code, description, applies] of generic) {
    if (applies && responses[code] === undefined) responses[code] = errorResponse(code, description);
  }
  const op: Json = {
    operationId: `${route.method}${route.path.replace(/[/:_](\w)/g, (_, c: string) => c.toUpperCase())}`,
    tags: [route.doc.tag],
    summary: route.doc.summary,
    ...(route.doc.description === undefined ? {} : { description: route.doc.description }),
  };
  const params = [...parameters(route.params, "path"), ...parameters(route.query, "query")];
  if (params.length > 0) op.parameters = params;
  if (route.body !== undefined) {
    op.requestBody = {
      required: true,
      content: { "application/json": { schema: ref(requestSchemas, route.body, `${route.path} body`) } },
    };
  }
  op.responses = Object.fromEntries(Object.entries(responses).sort(([a], [b]) => Number(a) - Number(b)));
  op.security = route.auth === "admin" ? [{ adminAuth: [] }] : route.auth ? [{ bearerAuth: [] }] : [];
  return op;
}

export function buildOpenApi(routes: readonly Route[]): Json {
  const paths: Record<string, Record<string, Json>> = {};
  for (const route of routes) {
    const path = openApiPath(route.path);
    paths[path] = { ...paths[path], [HTTP_METHOD[route.method]]: operation(route) };
  }
  const schemas: Record<string, Json> = {};
  for (const [registry, io] of [
    [requestSchemas, "input"],
    [responseSchemas, "output"],
  ] as const) {
    const generated = z.toJSONSchema(registry, { io, uri }) as { schemas: Record<string, Json> };
    for (const [id, schema] of Object.entries(generated.schemas)) {
      if (schemas[id] !== undefined) throw new Error(`openapi: two schemas named ${id}`);
      schemas[id] = clean(schema);
    }
  }
  return {
    openapi: "3.1.0",
    info: {
      title: "Nexus REST API",
      version: "0.1.0",
      description:
        'Accounts, tokens, profile, conversations and message history for Nexus (seed 000 plus DESIGN §4.5). Errors: `{"errors": {"field": ["message"]}}` for validation (422, 409), `{"errors": {"detail": "..."}}` otherwise.',
    },
    paths,
    components: {
      schemas,
      securitySchemes: {
        bearerAuth: { type: "http", scheme: "bearer", bearerFormat: "JWT" },
        adminAuth: {
          type: "http",
          scheme: "bearer",
          description: "ADMIN_TOKEN; operator endpoints answer 404 on nodes started without it",
        },
      },
    },
  };
}

/** The committed file's exact text. */
export function renderOpenApi(routes: readonly Route[]): string {
  return `${JSON.stringify(buildOpenApi(routes), null, 2)}\n`;
}
