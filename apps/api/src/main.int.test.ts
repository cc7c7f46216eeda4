/**
 * The built api node (dist/main.js) as `pnpm start:api` runs it: refuses to start without its
 * secrets, naming them; boots against real Postgres, serves the API and its OpenAPI document,
 * and stops cleanly on SIGTERM.
 */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import {
  type AppProcess,
  createTestDatabase,
  freePort,
  spawnApp,
  type TestDatabase,
  waitForHttp,
} from "@nexus/testkit";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { PASSWORD, uniqueEmail } from "./testing/fixtures.js";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const MAIN = fileURLToPath(new URL("../dist/main.js", import.meta.url));
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
    expect(await proc.kill("SIGTERM")).toBe(0);
    // No SMTP_URL: the confirmation mail went to the log, but never the password.
    expect(proc.output()).toContain("SMTP_URL unset");
    expect(proc.output()).not.toContain(PASSWORD);
  });
});
