/**
 * The built standalone node (dist/main.js, produced by `pnpm test`'s build step), run as a real
 * process the way `pnpm start` runs it.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  type AppProcess,
  createTestDatabase,
  freePort,
  spawnApp,
  waitFor,
  waitForHttp,
} from "@nexus/testkit";
import postgres from "postgres";
import { afterAll, afterEach, describe, expect, inject, it } from "vitest";
import WebSocket from "ws";

const MAIN = fileURLToPath(new URL("../dist/main.js", import.meta.url));
const dirs: string[] = [];
const procs: AppProcess[] = [];

function dataDir(): string {
  const d = mkdtempSync(join(tmpdir(), "nexus-standalone-"));
  dirs.push(d);
  return d;
}

async function start(env: Record<string, string>): Promise<{ proc: AppProcess; base: string }> {
  const port = await freePort();
  const proc = spawnApp(MAIN, { NODE_ENV: "development", LOG_LEVEL: "warn", PORT: String(port), ...env });
  procs.push(proc);
  const base = `http://127.0.0.1:${port}`;
  await Promise.race([
    waitForHttp(`${base}/readyz`, { timeoutMs: 60_000 }),
    proc.exited.then((code) => {
      throw new Error(`standalone exited (${code}) before ready:\n${proc.output()}`);
    }),
  ]);
  return { proc, base };
}

afterEach(async () => {
  await Promise.all(procs.splice(0).map((p) => p.kill("SIGKILL")));
});
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe("standalone node", () => {
  it("boots on a fresh data dir, answers /livez and /readyz, and stops cleanly on SIGTERM", async () => {
    const dir = dataDir();
    const { proc, base } = await start({ NEXUS_DATA_DIR: dir });

    const live = await fetch(`${base}/livez`);
    expect(live.status).toBe(200);
    expect(await live.json()).toEqual({ status: "ok" });
    const ready = await fetch(`${base}/readyz`);
    expect(await ready.json()).toEqual({ status: "ready", checks: { database: true, bus: true } });
    expect((await fetch(`${base}/nope`)).status).toBe(404);

    const secrets = join(dir, "secrets.json");
    expect(statSync(secrets).mode & 0o777).toBe(0o600);
    expect(existsSync(join(dir, "pgdata"))).toBe(true);

    expect(await proc.kill("SIGTERM")).toBe(0);
    expect(existsSync(join(dir, "standalone.pid"))).toBe(false);
  });

  it("keeps its development secrets and data across restarts, and refuses a second node on the same dir", async () => {
    const dir = dataDir();
    const first = await start({ NEXUS_DATA_DIR: dir });
    const secrets = readFileSync(join(dir, "secrets.json"), "utf8");
    expect(JSON.parse(secrets)).toMatchObject({
      jwtSecret: expect.any(String),
      vaultKey: expect.any(String),
    });

    const second = spawnApp(MAIN, {
      NODE_ENV: "development",
      PORT: String(await freePort()),
      NEXUS_DATA_DIR: dir,
    });
    procs.push(second);
    expect(await second.exited).toBe(1);
    expect(second.output()).toMatch(/is in use by another Nexus node \(pid \d+\)/);

    expect(await first.proc.kill("SIGTERM")).toBe(0);
    const again = await start({ NEXUS_DATA_DIR: dir });
    expect((await fetch(`${again.base}/readyz`)).status).toBe(200);
    expect(readFileSync(join(dir, "secrets.json"), "utf8")).toBe(secrets);
  }, 90_000);

  it("uses real Postgres when DATABASE_URL is set, and applies the migrations there", async () => {
    const db = await createTestDatabase(inject("pgAdminUrl"), { migrated: false });
    try {
      const { proc } = await start({ NEXUS_DATA_DIR: dataDir(), DATABASE_URL: db.url });
      const sql = postgres(db.url, { max: 1, onnotice: () => {} });
      try {
        const tables = await sql<{ table_name: string }[]>`
          select table_name from information_schema.tables where table_schema = 'public' order by 1`;
        expect(tables.map((t) => t.table_name)).toEqual([
          "conversation_members",
          "conversations",
          "encryption_keys",
          "message_groups",
          "messages",
          "outbox",
          "profiles",
          "tokens",
          "users",
        ]);
      } finally {
        await sql.end();
      }
      await proc.kill("SIGTERM");
    } finally {
      await db.drop();
    }
  });

  it("serves REST and the socket on one port: a registered user connects, and signout_all closes the socket", async () => {
    const { base } = await start({ NEXUS_DATA_DIR: dataDir() });
    const res = await fetch(`${base}/auth/register`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ email: "solo@example.com", password: "correct horse battery staple" }),
    });
    expect(res.status).toBe(201);
    const { auth_token } = (await res.json()) as { auth_token: string };
    const ws = new WebSocket(`${base.replace("http", "ws")}/socket/websocket?vsn=2.0.0&token=${auth_token}`);
    await new Promise((resolve, reject) => {
      ws.once("open", resolve);
      ws.once("error", reject);
    });
    const closed = new Promise<number>((resolve) => ws.once("close", (code) => resolve(code)));
    const out = await fetch(`${base}/api/signout_all`, {
      method: "POST",
      headers: { authorization: `Bearer ${auth_token}` },
    });
    expect(out.status).toBe(204);
    expect(await closed).toBe(1001);
  });

  it("runs seed 000's channels in one process: per-recipient ciphertexts and system:general presence", async () => {
    const { base } = await start({ NEXUS_DATA_DIR: dataDir() });
    const call = async (method: string, path: string, token?: string, body?: unknown) => {
      const res = await fetch(`${base}${path}`, {
        method,
        headers: {
          "content-type": "application/json",
          ...(token ? { authorization: `Bearer ${token}` } : {}),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      const text = await res.text();
      return { status: res.status, json: (text ? JSON.parse(text) : undefined) as Record<string, unknown> };
    };
    const register = async (email: string) => {
      const r = await call("POST", "/auth/register", undefined, {
        email,
        password: "correct horse battery staple",
      });
      expect(r.status).toBe(201);
      return { id: (r.json.user as { id: string }).id, token: r.json.auth_token as string };
    };
    const [ann, ben] = [await register("ann@example.com"), await register("ben@example.com")];
    const created = await call("POST", "/api/conversations", ann.token, {
      private: true,
      user_ids: [ben.id],
    });
    const conversationId = (created.json.conversation as { id: string }).id;
    for (const u of [ann, ben]) {
      const put = await call("PUT", `/api/conversations/${conversationId}/keys`, u.token, {
        public_key: `pub-${u.id}`,
        private_key: `priv-${u.id}`,
      });
      expect(put.status).toBe(204);
    }
    expect((await call("PATCH", "/api/profile", ben.token, { hidden: true })).status).toBe(200);

    const sockets = await Promise.all(
      [ann, ben].map(async (u) => {
        const ws = new WebSocket(`${base.replace("http", "ws")}/socket/websocket?vsn=2.0.0&token=${u.token}`);
        const frames: unknown[][] = [];
        ws.on("message", (d) => frames.push(JSON.parse(String(d)) as unknown[]));
        await new Promise((resolve, reject) => {
          ws.once("open", resolve);
          ws.once("error", reject);
        });
        return { ws, frames };
      }),
    );
    const topic = `conversation:${conversationId}`;
    const until = (f: () => boolean) => waitFor(f, { what: "frames" });
    for (const { ws } of sockets) {
      ws.send(JSON.stringify(["1", "1", topic, "phx_join", {}]));
      ws.send(JSON.stringify(["2", "2", "system:general", "phx_join", {}]));
    }
    await until(() => sockets.every((s) => s.frames.filter((f) => f[3] === "phx_reply").length === 2));
    sockets[0]!.ws.send(
      JSON.stringify([
        "1",
        "3",
        topic,
        "new_msg",
        { messages: [ann, ben].map((u) => ({ recipient_id: u.id, content: `for-${u.id}` })) },
      ]),
    );
    const contents = (i: number) =>
      sockets[i]!.frames.filter((f) => f[2] === topic && f[3] === "new_msg").map(
        (f) => (f[4] as { content: string }).content,
      );
    await until(() => contents(0).length === 1 && contents(1).length === 1);
    expect([contents(0), contents(1)]).toEqual([[`for-${ann.id}`], [`for-${ben.id}`]]);
    // Ben is hidden: once his channel is past its presence_state (after which it decides
    // whether to track him), a fresh snapshot for Ann is empty (her own join follows as a diff).
    const system = (i: number, event: string) =>
      sockets[i]!.frames.filter((f) => f[2] === "system:general" && f[3] === event);
    await until(() => system(1, "presence_state").length === 1 && system(0, "presence_diff").length > 0);
    sockets[0]!.ws.send(JSON.stringify(["2", "4", "system:general", "phx_leave", {}]));
    sockets[0]!.ws.send(JSON.stringify(["5", "5", "system:general", "phx_join", {}]));
    await until(() => system(0, "presence_state").length === 2);
    expect(system(0, "presence_state")[1]![4]).toEqual({});
    expect(JSON.stringify(system(0, "presence_diff"))).not.toContain(ben.id);
    for (const { ws } of sockets) ws.close();
  });

  it("drains its sockets on SIGTERM in waves, as a gateway does, then exits 0", async () => {
    const db = await createTestDatabase(inject("pgAdminUrl"));
    try {
      const { proc, base } = await start({
        NEXUS_DATA_DIR: dataDir(),
        DATABASE_URL: db.url,
        DRAIN_BATCH_SIZE: "1",
        DRAIN_BATCH_INTERVAL_MS: "600",
        DRAIN_TIMEOUT_MS: "10000",
      });
      const res = await fetch(`${base}/auth/register`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ email: "drain@example.com", password: "correct horse battery staple" }),
      });
      const { auth_token } = (await res.json()) as { auth_token: string };
      const closes: Array<{ code: number; at: number }> = [];
      for (let i = 0; i < 3; i++) {
        const ws = new WebSocket(
          `${base.replace("http", "ws")}/socket/websocket?vsn=2.0.0&token=${auth_token}`,
        );
        ws.on("close", (code) => closes.push({ code, at: Date.now() }));
        await new Promise((resolve, reject) => {
          ws.once("open", resolve);
          ws.once("error", reject);
        });
      }
      expect(await proc.kill("SIGTERM")).toBe(0);
      expect(closes.map((c) => c.code)).toEqual([1012, 1012, 1012]);
      // One socket per wave, about 600 ms apart: not all three in the same instant.
      for (let i = 1; i < 3; i++) expect(closes[i]!.at - closes[i - 1]!.at).toBeGreaterThan(300);
    } finally {
      await db.drop();
    }
  });

  it.each([
    [{ PORT: "http" }, /PORT: expected an integer from 0 to 65535 \(got "http"\)/],
    [
      { NODE_ENV: "production" },
      /JWT_SECRET: required for `standalone` in production[\s\S]*VAULT_KEY: required/,
    ],
    [{ DATABASE_URL: "mysql://localhost/x" }, /DATABASE_URL: expected a URL starting with postgres:\/\//],
    [{ UWS_USE_FALLBACK: "1" }, /uWebSockets\.js did not load its native binary/],
  ])("refuses to start with %j and says why", async (env, message) => {
    const proc = spawnApp(MAIN, { NODE_ENV: "development", NEXUS_DATA_DIR: dataDir(), ...env });
    procs.push(proc);
    expect(await proc.exited).toBe(1);
    expect(proc.output()).toMatch(message);
  });
});
