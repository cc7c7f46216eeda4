/**
 * The committed OpenAPI document (apps/api/openapi.json) is exactly what the route table
 * generates (as JSON; layout is the formatter's). After changing a route or schema: `UPDATE_OPENAPI=1 pnpm exec vitest run apps/api/src/openapi.test.ts`.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { allRoutes } from "./api.js";
import type { ApiContext } from "./context.js";
import { buildOpenApi, renderOpenApi } from "./openapi.js";

const FILE = fileURLToPath(new URL("../openapi.json", import.meta.url));
// Route factories only close over the context; nothing is called while documenting.
const routes = allRoutes({} as ApiContext);

describe("OpenAPI document", () => {
  it("the committed file matches the generated one", () => {
    const generated = renderOpenApi(routes);
    if (process.env.UPDATE_OPENAPI === "1") writeFileSync(FILE, generated);
    // Compared as JSON: the formatter (biome) may lay the committed file out differently.
    expect(JSON.parse(readFileSync(FILE, "utf8"))).toEqual(JSON.parse(generated));
  });

  it("documents every seed-000 and DESIGN §4.5 endpoint", () => {
    const doc = buildOpenApi(routes) as { openapi: string; paths: Record<string, Record<string, unknown>> };
    expect(doc.openapi).toBe("3.1.0");
    const ops = Object.entries(doc.paths).flatMap(([path, item]) =>
      Object.keys(item).map((m) => `${m.toUpperCase()} ${path}`),
    );
    expect(ops.sort()).toEqual(
      [
        "POST /auth/register",
        "POST /auth/login",
        "POST /auth/refresh",
        "POST /auth/confirm",
        "POST /auth/password/request",
        "POST /auth/password/confirm",
        "POST /auth/password/reset",
        "POST /api/signout_all",
        "POST /api/token/email_confirm",
        "POST /api/token/email_change",
        "PATCH /api/password",
        "PATCH /api/email",
        "PATCH /api/profile",
        "GET /api/messages",
        "GET /api/users",
        "GET /api/conversations/private/{user_id}",
        "POST /api/conversations",
        "GET /api/conversations",
        "POST /api/conversations/{id}/members",
        "DELETE /api/conversations/{id}/members/{user_id}",
        "PUT /api/conversations/{id}/keys",
        "GET /api/conversations/{id}/keys",
        "POST /api/announcements",
      ].sort(),
    );
  });

  it("every $ref resolves, every operation has an id, a summary and responses", () => {
    const doc = buildOpenApi(routes) as {
      paths: Record<string, Record<string, { operationId: string; summary: string; responses: object }>>;
      components: { schemas: Record<string, unknown> };
    };
    const refs = [...JSON.stringify(doc).matchAll(/"\$ref":"#\/components\/schemas\/([^"]+)"/g)].map(
      (m) => m[1]!,
    );
    expect(refs.length).toBeGreaterThan(20);
    for (const ref of refs) expect(doc.components.schemas, ref).toHaveProperty(ref);
    const ids = new Set<string>();
    for (const item of Object.values(doc.paths)) {
      for (const op of Object.values(item)) {
        expect(op.summary).toBeTruthy();
        expect(Object.keys(op.responses).length).toBeGreaterThan(0);
        expect(ids.has(op.operationId)).toBe(false);
        ids.add(op.operationId);
      }
    }
    expect(JSON.stringify(doc)).not.toContain('"$schema"');
  });
});
