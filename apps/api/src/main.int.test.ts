/**
 * The built api node (dist/main.js) as `pnpm start:api` runs it: refuses to start without its
 * secrets, naming them; boots against real Postgres, serves the API and its OpenAPI document,
 * and stops cleanly on SIGTERM. Also the built re-encrypt command (dist/reencrypt-cli.js, `pnpm
 * vault:reencrypt`), here because this file rebuilds dist/ and another file reading it would race.
 */
import { execFileSync } from "node:child_process";
import { randomBytes, randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { createDb, enqueueOutbox } from "@nexus/db";
import { parsePrometheusText, sampleSum } from "@nexus/http";
import {
  type AppProcess,
  createTestDatabase,
  freePort,
  spawnApp,
  type TestDatabase,
  waitForHttp,
} from "@nexus/testkit";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { outboxAssociatedData } from "./services/outbox-worker.js";
import { createVault } from "./services/vault.js";
import { PASSWORD, uniqueEmail } from "./testing/fixtures.js";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const MAIN = fileURLToPath(new URL("../dist/main.js", import.meta.url));
const REENCRYPT = fileURLToPath(new URL("../dist/reencrypt-cli.js", import.meta.url));
const SECRETS = { JWT_SECRET: "x".repeat(48), VAULT_KEY: Buffer.alloc(32, 3).toString("base64") };
let tdb: TestDatabase;
const procs: AppProcess[] = [];

beforeAll(async () => {
  execFileSync("pnpm", ["run", "build"], { cwd: ROOT, stdio: "pipe" });
  tdb = await createTestDatabase(inject("pgAdminUrl"));
}, 120_000);
afterAll(async () => {
  await Promise.all(procs.map((p) => p.kill("SIGKILL")));
  await tdb?.drop();
});

describe("start:api", () => {
  it("refuses to start without JWT_SECRET and VAULT_KEY, naming both", async () => {
    const proc = spawnApp(MAIN, { DATABASE_URL: tdb.url });
    procs.push(proc);
    expect(await proc.exited).toBe(1);
    expect(proc.output()).toMatch(/JWT_SECRET: required for `api`/);
    expect(proc.output()).toMatch(/VAULT_KEY: required for `api`/);
  });

  it("refuses a VAULT_KEY that is not 32 bytes, without echoing it", async () => {
    const proc = spawnApp(MAIN, {
      DATABASE_URL: tdb.url,
      JWT_SECRET: SECRETS.JWT_SECRET,
      VAULT_KEY: "c2hvcnQ=",
    });
    procs.push(proc);
    expect(await proc.exited).toBe(1);
    expect(proc.output()).toMatch(/VAULT_KEY: expected base64 of exactly 32 random bytes/);
    expect(proc.output()).not.toContain("c2hvcnQ=");
  });

  it("boots, serves /auth and /api and the OpenAPI document, drains on SIGTERM", async () => {
    const port = await freePort();
    const proc = spawnApp(MAIN, { ...SECRETS, DATABASE_URL: tdb.url, PORT: String(port), HOST: "127.0.0.1" });
    procs.push(proc);
    const base = `http://127.0.0.1:${port}`;
    await Promise.race([
      waitForHttp(`${base}/readyz`, { timeoutMs: 30_000 }),
      proc.exited.then((code) => {
        throw new Error(`api exited (${code}) before ready:\n${proc.output()}`);
      }),
    ]);
    const email = uniqueEmail("proc");
    const reg = await fetch(`${base}/auth/register`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ email, password: PASSWORD }),
    });
    expect(reg.status).toBe(201);
    const { auth_token } = (await reg.json()) as { auth_token: string };
    const list = await fetch(`${base}/api/conversations`, {
      headers: { authorization: `Bearer ${auth_token}` },
    });
    expect(await list.json()).toEqual({ conversations: [] });
    const doc = await fetch(`${base}/api/openapi.json`);
    const committed = JSON.parse(
      readFileSync(fileURLToPath(new URL("../openapi.json", import.meta.url)), "utf8"),
    );
    expect(await doc.json()).toEqual(committed);
    expect((await fetch(`${base}/api/nope`)).status).toBe(404);

    // Request metrics by route pattern and status, never by requested path.
    const metrics = await fetch(`${base}/metrics`);
    expect(metrics.headers.get("content-type")).toMatch(/^text\/plain; version=0\.0\.4/);
    const samples = parsePrometheusText(await metrics.text());
    const count = (labels: Record<string, string>) =>
      sampleSum(samples, "nexus_http_request_duration_seconds_count", labels);
    expect(count({ method: "POST", route: "/auth/register", status: "201", service: "api" })).toBe(1);
    expect(count({ method: "GET", route: "/api/conversations", status: "200" })).toBe(1);
    expect(count({ method: "GET", route: "(unmatched)", status: "404" })).toBe(1);
    expect(samples.some((x) => x.labels.route === "/api/nope")).toBe(false);
    expect(sampleSum(samples, "process_cpu_seconds_total")).toBeGreaterThan(0);
    expect(await proc.kill("SIGTERM")).toBe(0);
    // No SMTP_URL: the confirmation mail went to the log, but never the password.
    expect(proc.output()).toContain("SMTP_URL unset");
    expect(proc.output()).not.toContain(PASSWORD);
  });
});

describe("vault:reencrypt", () => {
  // Its own database: rows the api tests above leave must not change the counts here.
  let vdb: TestDatabase;
  beforeAll(async () => {
    vdb = await createTestDatabase(inject("pgAdminUrl"));
  });
  afterAll(async () => {
    await vdb?.drop();
  });
  const oldKey = randomBytes(32);
  const newKey = randomBytes(32);
  const env = {
    VAULT_KEY: newKey.toString("base64"),
    VAULT_PREVIOUS_KEYS: oldKey.toString("base64"),
  };
  /** A queued mail sealed with `key`, straight into the outbox. */
  async function queueMail(key: Buffer): Promise<void> {
    const handle = createDb({ kind: "postgres", url: vdb.url, poolSize: 1 });
    const id = randomUUID();
    const payload = createVault({ current: key }).seal('{"to":"x@example.com"}', outboxAssociatedData(id));
    await enqueueOutbox(handle.db, { id, payload }).finally(() => handle.close());
  }
  const run = async (extra: Record<string, string>) => {
    const proc = spawnApp(REENCRYPT, { DATABASE_URL: vdb.url, ...extra });
    procs.push(proc);
    return { code: await proc.exited, output: proc.output() };
  };

  it("refuses to start without VAULT_KEY, naming it", async () => {
    const { code, output } = await run({});
    expect(code).toBe(1);
    expect(output).toMatch(/VAULT_KEY: required for `vault` but not set/);
  });

  it("moves rows on the previous key to VAULT_KEY, prints the summary and exits 0; again: nothing to do", async () => {
    await queueMail(oldKey);
    const current = createVault({ current: newKey }).keyId;
    const first = await run(env);
    expect(first.code, first.output).toBe(0);
    expect(first.output).toMatch(
      new RegExp(
        `^re-encrypted 0 encryption_keys rows, 1 outbox rows; 0 could not be opened; current key ${current}$`,
        "m",
      ),
    );
    const second = await run(env);
    expect(second.code, second.output).toBe(0);
    expect(second.output).toMatch(
      /^re-encrypted 0 encryption_keys rows, 0 outbox rows; 0 could not be opened; /m,
    );
  });

  it("exits non-zero after the sweep when a row opens with no configured key", async () => {
    await queueMail(oldKey);
    await queueMail(randomBytes(32));
    const { code, output } = await run(env);
    expect(code).toBe(1);
    expect(output).toMatch(/^re-encrypted 0 encryption_keys rows, 1 outbox rows; 1 could not be opened; /m);
    expect(output).toMatch(/does not open with any configured key/);
    expect(output).not.toContain(env.VAULT_KEY);
    expect(output).not.toContain(env.VAULT_PREVIOUS_KEYS);
  });
});
