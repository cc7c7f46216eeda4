/**
 * Rate limits on the auth endpoints: 429 with Retry-After, in memory and in Redis (where two
 * api nodes share the counts), and a Redis outage that lets requests through.
 */
import { randomBytes } from "node:crypto";
import { createTestDatabase, type TestDatabase } from "@nexus/testkit";
import { Redis } from "ioredis";
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from "vitest";
import { type ApiServer, startApiServer } from "../testing/api-server.js";
import { PASSWORD, register, uniqueEmail } from "../testing/fixtures.js";
import { createRedisRateLimiter } from "./rate-limit.js";

let tdb: TestDatabase;
const servers: ApiServer[] = [];
const clients: Redis[] = [];

beforeAll(async () => {
  tdb = await createTestDatabase(inject("pgAdminUrl"));
});
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
  await Promise.all(clients.splice(0).map((c) => c.quit().catch(() => c.disconnect())));
});
afterAll(async () => {
  await tdb?.drop();
});

async function start(opts: Partial<Parameters<typeof startApiServer>[0]>) {
  const s = await startApiServer({ databaseUrl: tdb.url, ...opts });
  servers.push(s);
  return s;
}

/** Like main.ts builds it (no offline queue: an outage fails fast, and open). */
async function redisLimiter(url = inject("redisUrl"), { ready = true } = {}) {
  const redis = new Redis(url, { maxRetriesPerRequest: 1, enableOfflineQueue: false, lazyConnect: false });
  redis.on("error", () => {});
  clients.push(redis);
  if (ready) await new Promise((resolve) => redis.once("ready", resolve));
  return createRedisRateLimiter({
    redis,
    prefix: `test:${randomBytes(4).toString("hex")}:`,
    log: { warn() {} },
  });
}

const login = (s: ApiServer, email: string, password = PASSWORD) =>
  s.call("POST", "/auth/login", { body: { email, password } });

describe("rate limits", () => {
  it("login: per account, 429 with Retry-After once over, other accounts unaffected", async () => {
    const server = await start({ rateLimits: { login_email: { limit: 3, windowMs: 60_000 } } });
    const { email } = await register(server);
    for (let i = 0; i < 3; i++) expect((await login(server, email, "wrong password!!")).status).toBe(401);
    const limited = await login(server, email.toUpperCase());
    expect(limited.status).toBe(429);
    expect(limited.json).toEqual({ errors: { detail: "Too Many Requests" } });
    const retryAfter = Number(limited.headers.get("retry-after"));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
    const other = await register(server);
    expect((await login(server, other.email)).status).toBe(200);
  });

  it("every /auth/* endpoint: per client address", async () => {
    const server = await start({ rateLimits: { auth_ip: { limit: 4, windowMs: 60_000 } } });
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) {
      statuses.push((await server.call("POST", "/auth/refresh", { body: { token: "x" } })).status);
    }
    expect(statuses).toEqual([401, 401, 401, 401, 429, 429]);
    expect((await server.call("POST", "/auth/login", { body: {} })).status).toBe(429);
  });

  it("mail: password reset requests per address", async () => {
    const server = await start({ rateLimits: { email_send: { limit: 2, windowMs: 60_000 } } });
    const email = uniqueEmail();
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++)
      statuses.push((await server.call("POST", "/auth/password/request", { body: { email } })).status);
    expect(statuses).toEqual([204, 204, 429]);
  });

  it("in Redis, two api nodes share one count", async () => {
    const limiter = await redisLimiter();
    const limits = { login_email: { limit: 4, windowMs: 60_000 } };
    const a = await start({ rateLimiter: limiter, rateLimits: limits });
    const b = await start({ rateLimiter: limiter, rateLimits: limits, hub: a.hub });
    const { email } = await register(a);
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) statuses.push((await login(i % 2 === 0 ? a : b, email)).status);
    expect(statuses).toEqual([200, 200, 200, 200, 429, 429]);
  });

  it("the Redis counter's window expires (PEXPIRE) and Retry-After follows it", async () => {
    const limiter = await redisLimiter();
    const rule = { limit: 1, windowMs: 300 };
    expect(await limiter.hit("k", rule)).toEqual({ ok: true });
    const over = await limiter.hit("k", rule);
    expect(over.ok).toBe(false);
    expect(!over.ok && over.retryAfterMs).toBeGreaterThan(0);
    expect(!over.ok && over.retryAfterMs).toBeLessThanOrEqual(300);
    await new Promise((r) => setTimeout(r, 350));
    expect(await limiter.hit("k", rule)).toEqual({ ok: true });
  });

  it("a Redis outage lets requests through rather than locking everyone out", async () => {
    const limiter = await redisLimiter("redis://127.0.0.1:9", { ready: false });
    expect(await limiter.hit("k", { limit: 0, windowMs: 1000 })).toEqual({ ok: true });
  });
});
