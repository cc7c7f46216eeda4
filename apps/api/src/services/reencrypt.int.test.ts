/**
 * VAULT_KEY rotation end to end, on real Postgres through the real HTTP api (DESIGN §7): the raw
 * columns hold no plaintext key material; after a rotation old rows still open and new ones are
 * sealed with the new key; the re-encrypt sweep moves every old row (keys and queued mail) to
 * the new key, so an api holding only the new key reads them all; a second sweep has nothing to
 * do; rows no configured key opens are reported and left untouched; and a row rewritten by
 * someone else between the sweep's read and its write is never overwritten.
 *
 * The steps build on each other (one database, run in order).
 */
import { randomBytes, randomUUID } from "node:crypto";
import { Writable } from "node:stream";
import { createLogger } from "@nexus/config";
import {
  createDb,
  type DbHandle,
  encryptionKeysNotOnKey,
  enqueueOutbox,
  markOutboxSent,
  resealEncryptionKeys,
  resealOutboxPayload,
  schema,
} from "@nexus/db";
import { createTestDatabase, type TestDatabase, waitFor } from "@nexus/testkit";
import { and, asc, eq, isNotNull } from "drizzle-orm";
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from "vitest";
import { keyAssociatedData } from "../routes/keys.js";
import { type ApiServer, startApiServer } from "../testing/api-server.js";
import { type Registered, register } from "../testing/fixtures.js";
import { outboxAssociatedData } from "./outbox-worker.js";
import { reencryptVaultRows, summaryLine } from "./reencrypt.js";
import { createVault } from "./vault.js";

const K1 = randomBytes(32);
const K2 = randomBytes(32);
const UNKNOWN = randomBytes(32);
const onlyK1 = createVault({ current: K1 });
const rotated = createVault({ current: K2, previous: [K1] });
const onlyK2 = createVault({ current: K2 });
const unknown = createVault({ current: UNKNOWN });

let tdb: TestDatabase;
let handle: DbHandle;
const servers: ApiServer[] = [];

beforeAll(async () => {
  tdb = await createTestDatabase(inject("pgAdminUrl"));
  handle = createDb({ kind: "postgres", url: tdb.url, poolSize: 4 });
});
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});
afterAll(async () => {
  await handle?.close();
  await tdb?.drop();
});

/** An api node with these vault keys; the outbox worker stays off so queued mail stays queued. */
async function startApi(vaultKey: Buffer, previousVaultKeys: Buffer[] = []): Promise<ApiServer> {
  const s = await startApiServer({
    databaseUrl: tdb.url,
    vaultKey,
    previousVaultKeys,
    outbox: { run: false },
  });
  servers.push(s);
  return s;
}

/** The sweep as the command runs it, with its log lines captured. */
async function sweep(vault = rotated, batchSize = 2) {
  const lines: string[] = [];
  const log = createLogger({
    level: "info",
    pretty: false,
    destination: new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(chunk.toString());
        done();
      },
    }),
  });
  const result = await reencryptVaultRows({ db: handle.db, vault, log, batchSize });
  return { result, lines };
}

const keyRows = (conversationId: string) =>
  handle.db
    .select()
    .from(schema.encryptionKeys)
    .where(eq(schema.encryptionKeys.conversationId, conversationId))
    .orderBy(asc(schema.encryptionKeys.userId));

const pendingMail = () =>
  handle.db
    .select({ id: schema.outbox.id, payload: schema.outbox.payload })
    .from(schema.outbox)
    .where(isNotNull(schema.outbox.payload))
    .orderBy(asc(schema.outbox.id));

/** Client-made key strings: distinctive, and long enough that any leak would show. */
const newKeys = (label: string) => ({
  public_key: `-----BEGIN PUBLIC KEY ${label}-----${randomBytes(48).toString("base64")}`,
  private_key: JSON.stringify({ kty: "OKP", label, d: randomBytes(32).toString("base64url") }),
});
type Keys = ReturnType<typeof newKeys>;

/** Neither key string, nor its base64, base64url or hex form, occurs anywhere in the bytes. */
function expectNoPlaintext(bytes: Buffer, keys: Keys[]) {
  for (const k of keys) {
    for (const secret of [k.public_key, k.private_key]) {
      const raw = Buffer.from(secret, "utf8");
      for (const form of [raw, ...(["base64", "base64url", "hex"] as const).map((e) => raw.toString(e))]) {
        expect(bytes.includes(form), `a form of ${secret.slice(0, 24)}… is readable at rest`).toBe(false);
      }
    }
  }
}

function expectSealedWith(row: { publicKey: Buffer; privateKey: Buffer; vaultKeyId: string }, keyId: string) {
  expect(row.vaultKeyId).toBe(keyId);
  expect(onlyK2.keyIdOf(row.publicKey)).toBe(keyId);
  expect(onlyK2.keyIdOf(row.privateKey)).toBe(keyId);
}

const putKeys = (s: ApiServer, conv: string, who: Registered, keys: Keys) =>
  s.call("PUT", `/api/conversations/${conv}/keys`, { token: who.authToken, body: keys });
const getKeys = async (s: ApiServer, conv: string, who: Registered) => {
  const res = await s.call("GET", `/api/conversations/${conv}/keys`, { token: who.authToken });
  expect(res.status).toBe(200);
  return res.json as { public_keys: { user_id: string; public_key: string }[]; private_key: string | null };
};
const sortedPublic = (json: { public_keys: { user_id: string; public_key: string }[] }) =>
  [...json.public_keys].sort((x, y) => x.user_id.localeCompare(y.user_id));

async function createConversation(s: ApiServer, owner: Registered, others: Registered[]): Promise<string> {
  const res = await s.call("POST", "/api/conversations", {
    token: owner.authToken,
    body:
      others.length === 1
        ? { private: true, user_ids: [others[0]!.id] }
        : { private: false, user_ids: others.map((u) => u.id), alias: "rotation" },
  });
  expect(res.status).toBe(201);
  return (res.json as { conversation: { id: string } }).conversation.id;
}

// Shared by the steps below.
let a: Registered;
let b: Registered;
let c: Registered;
let group: string;
const keys: Record<string, Keys> = {};

describe("VAULT_KEY rotation", () => {
  it("under K1: the raw columns hold only ciphertext, and every header and vault_key_id names K1", async () => {
    const s = await startApi(K1);
    [a, b, c] = [await register(s), await register(s), await register(s)]; // three confirmation mails
    group = await createConversation(s, a, [b, c]);
    for (const [who, label] of [
      [a, "a"],
      [b, "b"],
    ] as const) {
      keys[who.id] = newKeys(label);
      expect((await putKeys(s, group, who, keys[who.id]!)).status).toBe(204);
    }

    const rows = await keyRows(group);
    expect(rows).toHaveLength(2);
    for (const row of rows) {
      expectSealedWith(row, onlyK1.keyId);
      expectNoPlaintext(Buffer.concat([row.publicKey, row.privateKey]), Object.values(keys));
    }
    const mail = await pendingMail();
    expect(mail).toHaveLength(3);
    for (const m of mail) expect(onlyK1.keyIdOf(m.payload!)).toBe(onlyK1.keyId);
  });

  it("rotated (K2 current, K1 previous): old rows still read, new keys and mail are sealed with K2", async () => {
    const s = await startApi(K2, [K1]);
    for (const who of [a, b]) {
      const got = await getKeys(s, group, who);
      expect(got.private_key).toBe(keys[who.id]!.private_key);
      expect(sortedPublic(got)).toEqual(
        [a, b]
          .map((u) => ({ user_id: u.id, public_key: keys[u.id]!.public_key }))
          .sort((x, y) => x.user_id.localeCompare(y.user_id)),
      );
    }

    keys[c.id] = newKeys("c");
    expect((await putKeys(s, group, c, keys[c.id]!)).status).toBe(204);
    const cRow = (await keyRows(group)).find((r) => r.userId === c.id)!;
    expectSealedWith(cRow, rotated.keyId);
    expectNoPlaintext(Buffer.concat([cRow.publicKey, cRow.privateKey]), Object.values(keys));

    expect((await s.call("POST", "/auth/password/request", { body: { email: a.email } })).status).toBe(204);
    const mail = await waitFor(async () => {
      const rows = await pendingMail();
      return rows.length === 4 ? rows : undefined;
    });
    expect(mail.filter((m) => onlyK2.keyIdOf(m.payload!) === rotated.keyId)).toHaveLength(1);

    // Without K1 the old rows do not open: this is what the sweep is for.
    const k2 = await startApi(K2);
    expect(await getKeys(k2, group, a)).toEqual({
      public_keys: [{ user_id: c.id, public_key: keys[c.id]!.public_key }],
      private_key: null,
    });
  });

  it("the sweep moves every K1 row to K2 (keyset pages of 2), and an api with only K2 reads them all", async () => {
    const { result, lines } = await sweep();
    expect(result).toEqual({
      currentKeyId: rotated.keyId,
      encryptionKeys: 2,
      outbox: 3,
      unopenable: 0,
      changed: 0,
    });
    expect(summaryLine(result)).toBe(
      `re-encrypted 2 encryption_keys rows, 3 outbox rows; 0 could not be opened; current key ${rotated.keyId}`,
    );
    expect(lines.join("")).not.toMatch(/does not open/);

    for (const row of await keyRows(group)) {
      expectSealedWith(row, rotated.keyId);
      expectNoPlaintext(Buffer.concat([row.publicKey, row.privateKey]), Object.values(keys));
      // Still bound to its row: opens under its own associated data with K2 alone.
      const opened = onlyK2.open(row.privateKey, keyAssociatedData(group, row.userId, "private"));
      expect(opened.ok && opened.plaintext.toString("utf8")).toBe(keys[row.userId]!.private_key);
    }
    for (const m of await pendingMail()) {
      expect(onlyK2.keyIdOf(m.payload!)).toBe(rotated.keyId);
      const opened = onlyK2.open(m.payload!, outboxAssociatedData(m.id));
      expect(opened.ok && JSON.parse(opened.plaintext.toString("utf8"))).toMatchObject({
        to: expect.stringContaining("@example.com"),
      });
    }

    const s = await startApi(K2);
    for (const who of [a, b, c]) {
      const got = await getKeys(s, group, who);
      expect(got.private_key).toBe(keys[who.id]!.private_key);
      expect(sortedPublic(got)).toEqual(
        [a, b, c]
          .map((u) => ({ user_id: u.id, public_key: keys[u.id]!.public_key }))
          .sort((x, y) => x.user_id.localeCompare(y.user_id)),
      );
    }
  });

  it("a second sweep re-encrypts nothing", async () => {
    const before = await keyRows(group);
    const { result } = await sweep();
    expect(result).toEqual({
      currentKeyId: rotated.keyId,
      encryptionKeys: 0,
      outbox: 0,
      unopenable: 0,
      changed: 0,
    });
    expect(await keyRows(group)).toEqual(before);
  });

  it("rows no configured key opens (unknown key, tampered, moved) are reported and left as they are", async () => {
    const s = await startApi(K2, [K1]);
    const pair = await createConversation(s, a, [b]);
    const aKeys = newKeys("a-pair");
    const bKeys = newKeys("b-pair");
    expect((await putKeys(s, pair, a, aKeys)).status).toBe(204);
    expect((await putKeys(s, pair, b, bKeys)).status).toBe(204);
    const ad = (userId: string, which: "public" | "private") => keyAssociatedData(pair, userId, which);
    const flipLast = (buf: Buffer) => Buffer.concat([buf.subarray(0, -1), Buffer.from([buf.at(-1)! ^ 1])]);
    const setRow = (userId: string, set: Partial<typeof schema.encryptionKeys.$inferInsert>) =>
      handle.db
        .update(schema.encryptionKeys)
        .set(set)
        .where(and(eq(schema.encryptionKeys.conversationId, pair), eq(schema.encryptionKeys.userId, userId)));
    // a: sealed with a key no node was given.
    await setRow(a.id, {
      publicKey: unknown.seal(aKeys.public_key, ad(a.id, "public")),
      privateKey: unknown.seal(aKeys.private_key, ad(a.id, "private")),
      vaultKeyId: unknown.keyId,
    });
    // b: on K1, but the private key's tag was tampered with.
    await setRow(b.id, {
      publicKey: onlyK1.seal(bKeys.public_key, ad(b.id, "public")),
      privateKey: flipLast(onlyK1.seal(bKeys.private_key, ad(b.id, "private"))),
      vaultKeyId: onlyK1.keyId,
    });
    // Mail: an unknown key; K1 with a flipped bit; K1 but sealed for another row (moved).
    const [m1, m2, m3] = [randomUUID(), randomUUID(), randomUUID()];
    await enqueueOutbox(handle.db, { id: m1, payload: unknown.seal("{}", outboxAssociatedData(m1)) });
    await enqueueOutbox(handle.db, {
      id: m2,
      payload: flipLast(onlyK1.seal("{}", outboxAssociatedData(m2))),
    });
    await enqueueOutbox(handle.db, { id: m3, payload: onlyK1.seal("{}", outboxAssociatedData(m1)) });
    const keysBefore = await keyRows(pair);
    const mailBefore = await pendingMail();

    const { result, lines } = await sweep(rotated, 1);
    expect(result).toEqual({
      currentKeyId: rotated.keyId,
      encryptionKeys: 0,
      outbox: 0,
      unopenable: 5,
      changed: 0,
    });
    expect(summaryLine(result)).toMatch(/; 5 could not be opened; /);
    expect(await keyRows(pair)).toEqual(keysBefore);
    expect(await pendingMail()).toEqual(mailBefore);

    const logged = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(logged.filter((l) => String(l.msg).includes("does not open"))).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ table: "encryption_keys", userId: a.id, error: "public key: unknown_key" }),
        expect.objectContaining({ table: "encryption_keys", userId: b.id, error: "private key: corrupt" }),
        expect.objectContaining({ table: "outbox", id: m1, error: "unknown_key" }),
        expect.objectContaining({ table: "outbox", id: m2, error: "corrupt" }),
        expect.objectContaining({ table: "outbox", id: m3, error: "corrupt" }),
      ]),
    );
    expectNoPlaintext(Buffer.from(lines.join("")), [aKeys, bKeys]);
  });

  it("a row rewritten between the sweep's read and its write keeps the writer's version", async () => {
    const s = await startApi(K2, [K1]);
    // c's row back on K1, as if never swept.
    const old = keys[c.id]!;
    await handle.db
      .update(schema.encryptionKeys)
      .set({
        publicKey: onlyK1.seal(old.public_key, keyAssociatedData(group, c.id, "public")),
        privateKey: onlyK1.seal(old.private_key, keyAssociatedData(group, c.id, "private")),
        vaultKeyId: onlyK1.keyId,
      })
      .where(and(eq(schema.encryptionKeys.conversationId, group), eq(schema.encryptionKeys.userId, c.id)));
    const read = (
      await encryptionKeysNotOnKey(handle.db, { keyId: rotated.keyId, after: undefined, limit: 100 })
    ).find((r) => r.userId === c.id && r.conversationId === group)!;
    expect(read.vaultKeyId).toBe(onlyK1.keyId);

    // Meanwhile c uploads new keys (sealed with K2)…
    keys[c.id] = newKeys("c-new");
    expect((await putKeys(s, group, c, keys[c.id]!)).status).toBe(204);
    // …so the sweep's write, based on what it read, must not land.
    const landed = await resealEncryptionKeys(handle.db, {
      old: read,
      publicKey: rotated.seal(old.public_key, keyAssociatedData(group, c.id, "public")),
      privateKey: rotated.seal(old.private_key, keyAssociatedData(group, c.id, "private")),
      vaultKeyId: rotated.keyId,
    });
    expect(landed).toBe(false);
    expect((await getKeys(s, group, c)).private_key).toBe(keys[c.id]!.private_key);

    // The same for mail: a payload the worker cleared (sent) is not brought back.
    const mail = (await pendingMail()).find((m) => onlyK2.keyIdOf(m.payload!) === onlyK2.keyId);
    await markOutboxSent(handle.db, mail!.id);
    expect(
      await resealOutboxPayload(handle.db, { id: mail!.id, old: mail!.payload!, payload: mail!.payload! }),
    ).toBe(false);
    const [after] = await handle.db.select().from(schema.outbox).where(eq(schema.outbox.id, mail!.id));
    expect(after!.payload).toBeNull();
  });

  it("an api holding only K2 delivers the swept mail; only the unreadable rows fail", async () => {
    const s = await startApi(K2);
    const readable = (await pendingMail()).filter((m) => onlyK2.keyIdOf(m.payload!) === onlyK2.keyId);
    expect(readable).toHaveLength(3); // 3 confirmations + 1 reset, one of them sent above
    await s.api.outbox.runOnce();
    const rows = await handle.db.select().from(schema.outbox);
    for (const m of readable) expect(rows.find((r) => r.id === m.id)?.sentAt).not.toBeNull();
    const failed = rows.filter((r) => r.failedAt !== null);
    expect(failed).toHaveLength(3);
    for (const r of failed) expect(r.lastError).toMatch(/^vault: (unknown_key|corrupt)$/);
  });
});
