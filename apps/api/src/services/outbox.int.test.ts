/**
 * The email outbox end to end: mail queued in the request's transaction, delivered by the
 * worker over real SMTP, retried while the server refuses, never sent twice by two workers,
 * sealed at rest; and the log mailer when there is no SMTP server.
 */
import { pendingOutboxCount, schema } from "@nexus/db";
import { createTestDatabase, type TestDatabase, waitFor } from "@nexus/testkit";
import { isNull, sql } from "drizzle-orm";
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from "vitest";
import { type ApiServer, startApiServer } from "../testing/api-server.js";
import { PASSWORD, register, uniqueEmail } from "../testing/fixtures.js";
import { type SmtpSink, startSmtpSink } from "../testing/smtp-sink.js";

let tdb: TestDatabase;
let smtp: SmtpSink;
const servers: ApiServer[] = [];

beforeAll(async () => {
  tdb = await createTestDatabase(inject("pgAdminUrl"));
  smtp = await startSmtpSink();
});
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
  smtp.failing = false;
});
afterAll(async () => {
  await smtp?.close();
  await tdb?.drop();
});

async function start(opts: Partial<Parameters<typeof startApiServer>[0]> = {}) {
  const s = await startApiServer({
    databaseUrl: tdb.url,
    smtpUrl: smtp.url,
    outbox: { pollMs: 50, backoffMs: () => 100 },
    ...opts,
  });
  servers.push(s);
  return s;
}

const received = (email: string) => smtp.received.filter((m) => m.to.includes(email)).length;

describe("outbox", () => {
  it("an SMTP server refusing mail delays it and loses none; each arrives once it accepts", async () => {
    const server = await start();
    smtp.failing = true;
    const users = await Promise.all(Array.from({ length: 5 }, () => register(server)));
    await waitFor(() => smtp.refused >= 10, { what: "the worker to retry the refused mail" });
    const pending = await server.database.db
      .select({
        attempts: schema.outbox.attempts,
        lastError: schema.outbox.lastError,
        payload: schema.outbox.payload,
      })
      .from(schema.outbox)
      .where(sql`${schema.outbox.sentAt} is null`);
    expect(pending.length).toBeGreaterThanOrEqual(5);
    expect(pending.every((r) => r.lastError?.includes("451"))).toBe(true);
    // Sealed at rest: neither the address nor the link is readable in the table.
    for (const r of pending) {
      const text = r.payload!.toString("latin1");
      expect(text).not.toContain("token=");
      expect(text).not.toContain("@example.com");
    }

    smtp.failing = false;
    await waitFor(() => users.every((u) => received(u.email) >= 1), { what: "every confirmation mail" });
    await waitFor(async () => (await pendingOutboxCount(server.database.db)) === 0, {
      what: "the outbox to drain",
    });
    for (const u of users) expect(received(u.email)).toBe(1);
    const sent = await server.database.db
      .select()
      .from(schema.outbox)
      .where(sql`${schema.outbox.sentAt} is not null`);
    expect(sent.every((r) => r.payload === null)).toBe(true);
  });

  it("an unreachable SMTP server: the rows wait, with the error recorded", async () => {
    const server = await start({ smtpUrl: "smtp://127.0.0.1:9" }); // discard port: connection refused
    const user = await register(server);
    const stuck = await waitFor(
      async () => {
        const rows = await server.database.db
          .select()
          .from(schema.outbox)
          .where(sql`${schema.outbox.attempts} >= 2 and ${schema.outbox.sentAt} is null`);
        return rows.length > 0 ? rows : undefined;
      },
      { what: "retries against the dead server" },
    );
    expect(stuck[0]!.lastError).toMatch(/ECONNREFUSED/);
    expect(received(user.email)).toBe(0);
    // Another node with a working server picks the mail up: nothing was lost.
    await start();
    await waitFor(() => received(user.email) === 1, { what: "delivery by the healthy node" });
  });

  it("two workers on one table never send the same mail twice", async () => {
    const a = await start();
    const b = await start();
    const users = await Promise.all(Array.from({ length: 30 }, (_, i) => register(i % 2 === 0 ? a : b)));
    await waitFor(() => users.every((u) => received(u.email) >= 1), { what: "all mail" });
    await new Promise((r) => setTimeout(r, 300));
    for (const u of users) expect(received(u.email)).toBe(1);
  });

  it("a request that fails writes no mail", async () => {
    const server = await start();
    const user = await register(server);
    await waitFor(() => received(user.email) === 1);
    const before = Number(
      (await server.database.db.select({ n: sql<string>`count(*)` }).from(schema.outbox))[0]!.n,
    );
    const dup = await server.call("POST", "/auth/register", {
      body: { email: user.email, password: PASSWORD },
    });
    expect(dup.status).toBe(409);
    const after = Number(
      (await server.database.db.select({ n: sql<string>`count(*)` }).from(schema.outbox))[0]!.n,
    );
    expect(after).toBe(before);
  });

  it("without SMTP_URL the mail, link included, goes to the log", async () => {
    const server = await startApiServer({ databaseUrl: tdb.url, outbox: { pollMs: 50 } });
    servers.push(server);
    const email = uniqueEmail("logged");
    await register(server, { email });
    const line = await waitFor(() =>
      server.logLines.find((l) => l.includes("email (SMTP_URL unset)") && l.includes(email)),
    );
    expect(line).toMatch(/confirm-email\?token=[A-Za-z0-9_-]{43}/);
    const rows = await server.database.db.select().from(schema.outbox).where(isNull(schema.outbox.payload));
    expect(rows.length).toBeGreaterThan(0);
  });
});
