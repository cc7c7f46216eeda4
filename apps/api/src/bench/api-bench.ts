/**
 * @module
 * `pnpm --filter @nexus/api run bench`: numbers for the REST node, printed, never asserted.
 *
 * 1. argon2 ceiling: password verifications per second straight on the threadpool, at the same
 *    concurrency as the HTTP run — the most logins/s this machine could ever do.
 * 2. logins/s through HTTP (JSON, rate limiter, argon2, refresh token insert, JWT, the auth
 *    payload queries) against that ceiling.
 * 3. GET /api/messages on a 100,000-message conversation: page 1 vs page 500 vs the last page
 *    (keyset pagination: the deep pages should cost what page 1 costs).
 *
 * Postgres: DATABASE_URL (a superuser/admin URL; a fresh database is created on it) or a
 * throwaway server started from the machine's binaries.
 */
import { randomBytes } from "node:crypto";
import { availableParallelism } from "node:os";
import { hashPassword, verifyPassword } from "@nexus/auth";
import { createMemoryBus } from "@nexus/bus";
import { createLogger } from "@nexus/config";
import { createDb } from "@nexus/db";
import { listen, uWS } from "@nexus/http";
import { startPostgres } from "@nexus/testkit";
import { sql } from "drizzle-orm";
import postgres from "postgres";
import { mountApi } from "../api.js";
import { createLogMailer } from "../services/mailer.js";
import { createMemoryRateLimiter } from "../services/rate-limit.js";

const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 16);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 8);
const MESSAGES = Number(process.env.BENCH_MESSAGES ?? 100_000);
const PASSWORD = "correct horse battery staple";
const UNLIMITED = { limit: Number.MAX_SAFE_INTEGER, windowMs: 60_000 };

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}
const fmt = (ms: number) => `${ms.toFixed(2)} ms`;

/** Runs `task` from `concurrency` loops for `seconds`; returns ops/s and latency percentiles. */
async function drive(task: (i: number) => Promise<void>, concurrency: number, seconds: number) {
  const latencies: number[] = [];
  const deadline = performance.now() + seconds * 1000;
  let n = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < deadline) {
        const t = performance.now();
        await task(n++);
        latencies.push(performance.now() - t);
      }
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  return {
    perSecond: latencies.length / elapsed,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    count: latencies.length,
  };
}

async function main(): Promise<void> {
  const server = process.env.DATABASE_URL ? undefined : await startPostgres();
  const adminUrl = process.env.DATABASE_URL ?? server!.url;
  const name = `nexus_bench_${randomBytes(4).toString("hex")}`;
  const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database ${name}`);
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  const database = createDb({ kind: "postgres", url: url.toString(), poolSize: 20 });
  await database.migrate();

  const log = createLogger({ level: "silent", pretty: false });
  const app = uWS.App();
  const bus = createMemoryBus({ nodeId: "bench" });
  const api = mountApi(app, {
    db: database.db,
    bus,
    log,
    jwtSecret: randomBytes(32).toString("hex"),
    jwtRequireExp: true,
    vaultKey: randomBytes(32),
    frontendUrl: "http://localhost",
    mailer: createLogMailer(log, "bench@localhost"),
    rateLimiter: createMemoryRateLimiter(),
    rateLimits: { auth_ip: UNLIMITED, register_ip: UNLIMITED, login_email: UNLIMITED, email_send: UNLIMITED },
  });
  const listening = await listen(app, "127.0.0.1", 0);
  const base = `http://127.0.0.1:${listening.port}`;
  const post = (path: string, body: unknown, token?: string) =>
    fetch(`${base}${path}`, {
      method: "POST",
      headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify(body),
    });

  console.log(
    `api bench — node ${process.version}, ${availableParallelism()} CPUs, UV_THREADPOOL_SIZE=${process.env.UV_THREADPOOL_SIZE ?? "4 (default)"}, concurrency ${CONCURRENCY}, ${SECONDS}s per run`,
  );

  // 1. argon2 ceiling
  const hash = await hashPassword(PASSWORD);
  const ceiling = await drive(async () => void (await verifyPassword(hash, PASSWORD)), CONCURRENCY, SECONDS);
  console.log(
    `argon2id verify (m=19 MiB, t=2, p=1): ${ceiling.perSecond.toFixed(1)}/s  p50 ${fmt(ceiling.p50)}  p99 ${fmt(ceiling.p99)}`,
  );

  // 2. logins over HTTP
  const emails: string[] = [];
  for (let i = 0; i < 50; i++) {
    const email = `bench-${i}@example.com`;
    const res = await post("/auth/register", { email, password: PASSWORD });
    if (res.status !== 201) throw new Error(`register failed: ${res.status} ${await res.text()}`);
    emails.push(email);
  }
  let failures = 0;
  const logins = await drive(
    async (i) => {
      const res = await post("/auth/login", { email: emails[i % emails.length], password: PASSWORD });
      if (res.status !== 200) failures++;
      await res.arrayBuffer();
    },
    CONCURRENCY,
    SECONDS,
  );
  console.log(
    `POST /auth/login: ${logins.perSecond.toFixed(1)}/s  p50 ${fmt(logins.p50)}  p99 ${fmt(logins.p99)}  (${((100 * logins.perSecond) / ceiling.perSecond).toFixed(0)}% of the argon2 ceiling; ${failures} failures)`,
  );

  // The same work minus argon2: what a login costs besides the password hash.
  const refreshTokens: string[] = [];
  for (const email of emails) {
    refreshTokens.push(
      ((await (await post("/auth/login", { email, password: PASSWORD })).json()) as { refresh_token: string })
        .refresh_token,
    );
  }
  let refreshFailures = 0;
  const refreshes = await drive(
    async (i) => {
      const slot = i % refreshTokens.length;
      const res = await post("/auth/refresh", { token: refreshTokens[slot] });
      // Concurrent loops may share a slot: a lost race is reuse (401), which is what it should be.
      if (res.status === 200)
        refreshTokens[slot] = ((await res.json()) as { refresh_token: string }).refresh_token;
      else {
        refreshFailures++;
        await res.arrayBuffer();
      }
    },
    Math.min(CONCURRENCY, refreshTokens.length),
    SECONDS,
  );
  console.log(
    `POST /auth/refresh (no argon2): ${refreshes.perSecond.toFixed(1)}/s  p50 ${fmt(refreshes.p50)}  p99 ${fmt(refreshes.p99)}  (${refreshFailures} refused)`,
  );

  if (MESSAGES === 0) return finish();

  // 3. paging a 100,000-message conversation
  const a = (await (await post("/auth/login", { email: emails[0], password: PASSWORD })).json()) as {
    user: { id: string };
    auth_token: string;
  };
  const b = (await (await post("/auth/login", { email: emails[1], password: PASSWORD })).json()) as {
    user: { id: string };
  };
  const created = (await (
    await post("/api/conversations", { private: true, user_ids: [b.user.id] }, a.auth_token)
  ).json()) as {
    conversation: { id: string };
  };
  const conversationId = created.conversation.id;
  const t0 = performance.now();
  // Bulk-load in SQL (one ciphertext per member per group, like the gateway writes them).
  await database.db.execute(sql`
    insert into message_groups (conversation_id, sender_id, seq)
    select ${conversationId}, case when s % 2 = 0 then ${a.user.id}::uuid else ${b.user.id}::uuid end, s
    from generate_series(1, ${MESSAGES}) s`);
  await database.db.execute(sql`
    insert into messages (group_id, recipient_id, content, inserted_at, updated_at)
    select g.id, r.id, to_jsonb('ciphertext ' || g.seq || ' ' || repeat('x', 200)), g.inserted_at, g.inserted_at
    from message_groups g cross join (values (${a.user.id}::uuid), (${b.user.id}::uuid)) r(id)
    where g.conversation_id = ${conversationId}`);
  await database.db.execute(
    sql`update conversations set last_seq = ${MESSAGES} where id = ${conversationId}`,
  );
  await database.db.execute(sql`analyze`);
  console.log(
    `loaded ${MESSAGES} message groups (${MESSAGES * 2} rows) in ${((performance.now() - t0) / 1000).toFixed(1)}s`,
  );

  const page = async (token: string | null, size: number) => {
    const q = `conversation_id=${conversationId}&page_size=${size}${token ? `&page_token=${encodeURIComponent(token)}` : ""}`;
    const res = await fetch(`${base}/api/messages?${q}`, {
      headers: { authorization: `Bearer ${a.auth_token}` },
    });
    if (res.status !== 200) throw new Error(`page failed: ${res.status}`);
    return (await res.json()) as { items: unknown[]; page_token: string | null };
  };
  const size = 100;
  const tokens: (string | null)[] = [null];
  for (let token: string | null = null; ; ) {
    token = (await page(token, size)).page_token;
    if (token === null) break;
    tokens.push(token);
  }
  const pages = tokens.length;
  for (const [label, index] of [
    ["page 1", 0],
    ["page 500", Math.min(499, pages - 1)],
    [`page ${pages} (last)`, pages - 1],
  ] as const) {
    const token = tokens[index] ?? null;
    // One request at a time: the latency of the page itself, not of a queue.
    const r = await drive(async () => void (await page(token, size)), 1, Math.max(2, SECONDS / 2));
    console.log(
      `GET /api/messages ${label} of ${pages} (size ${size}): p50 ${fmt(r.p50)}  p99 ${fmt(r.p99)}  ${r.perSecond.toFixed(0)}/s`,
    );
  }

  return finish();

  async function finish() {
    listening.close();
    await api.close();
    await bus.close();
    await database.close();
    await admin.unsafe(`drop database ${name} with (force)`);
    await admin.end();
    await server?.stop();
  }
}

await main();
