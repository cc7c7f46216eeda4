/**
 * The api on embedded PGlite, as the standalone node runs it by default: the main flows work
 * on the single-connection database too (transactions, SKIP LOCKED claims, unique conflicts).
 */
import { createMemoryBus } from "@nexus/bus";
import { createLogger } from "@nexus/config";
import { createDb, type DbHandle } from "@nexus/db";
import { type Listening, listen, uWS } from "@nexus/http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Api, mountApi } from "./api.js";
import { createLogMailer } from "./services/mailer.js";
import { createMemoryRateLimiter } from "./services/rate-limit.js";
import { RELAXED_LIMITS, TEST_JWT_SECRET, TEST_VAULT_KEY } from "./testing/api-server.js";
import { PASSWORD } from "./testing/fixtures.js";

let database: DbHandle;
let api: Api;
let listening: Listening;
let base: string;
const logged: string[] = [];

beforeAll(async () => {
  database = createDb({ kind: "pglite" });
  await database.migrate();
  const log = createLogger({
    level: "info",
    pretty: false,
    destination: { write: (s: string) => void logged.push(s) },
  });
  const app = uWS.App();
  api = mountApi(app, {
    db: database.db,
    bus: createMemoryBus({ nodeId: "standalone" }),
    log,
    jwtSecret: TEST_JWT_SECRET,
    jwtRequireExp: false,
    vaultKey: TEST_VAULT_KEY,
    frontendUrl: "http://localhost:4000",
    mailer: createLogMailer(log, "nexus@localhost"),
    rateLimiter: createMemoryRateLimiter(),
    rateLimits: RELAXED_LIMITS,
    outbox: { pollMs: 50 },
  });
  listening = await listen(app, "127.0.0.1", 0);
  base = `http://127.0.0.1:${listening.port}`;
}, 60_000);
afterAll(async () => {
  listening?.close();
  await api?.close();
  await database?.close();
});

async function call(method: string, path: string, body?: unknown, token?: string) {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, json: text ? (JSON.parse(text) as Record<string, unknown>) : undefined };
}

describe("api on PGlite", () => {
  it("register, conflict, login, refresh and reuse, conversation, keys, messages, mail", async () => {
    const a = await call("POST", "/auth/register", { email: "a@example.com", password: PASSWORD });
    expect(a.status).toBe(201);
    expect(
      (await call("POST", "/auth/register", { email: "A@example.com", password: PASSWORD })).status,
    ).toBe(409);
    const b = await call("POST", "/auth/register", { email: "b@example.com", password: PASSWORD });
    const login = await call("POST", "/auth/login", { email: "a@example.com", password: PASSWORD });
    expect(login.status).toBe(200);
    const refreshed = await call("POST", "/auth/refresh", { token: login.json!.refresh_token });
    expect(refreshed.status).toBe(200);
    expect((await call("POST", "/auth/refresh", { token: login.json!.refresh_token })).status).toBe(401);
    const token = a.json!.auth_token as string;
    const bUser = b.json!.user as { id: string };
    const conv = await call("POST", "/api/conversations", { private: true, user_ids: [bUser.id] }, token);
    expect(conv.status).toBe(201);
    const id = (conv.json!.conversation as { id: string }).id;
    expect(
      (await call("PUT", `/api/conversations/${id}/keys`, { public_key: "p", private_key: "s" }, token))
        .status,
    ).toBe(204);
    expect((await call("GET", `/api/conversations/${id}/keys`, undefined, token)).json).toMatchObject({
      private_key: "s",
    });
    expect((await call("GET", `/api/messages?conversation_id=${id}`, undefined, token)).json).toEqual({
      items: [],
      page_token: null,
    });
    expect((await call("POST", "/api/signout_all", undefined, token)).status).toBe(204);
    await expect.poll(() => logged.filter((l) => l.includes("email (SMTP_URL unset)")).length).toBe(2);
  });
});
