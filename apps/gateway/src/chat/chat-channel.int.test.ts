/**
 * `chat:{id}` end to end on one node: real Postgres, real JWT auth, the official phoenix client
 * driven through seed 004's own ChatClient class.
 */
import { randomUUID } from "node:crypto";
import { createMemoryBus, createMemoryHub } from "@nexus/bus";
import { schema } from "@nexus/db";
import { createTestDatabase, type TestDatabase, waitFor } from "@nexus/testkit";
import { eq, sql } from "drizzle-orm";
import { Socket } from "phoenix";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import WebSocket from "ws";
import { USERS_CONTROL_TOPIC } from "../gateway.js";
import { hs512, pyjwtHs256, unsignedJwt } from "../testing/jwt.js";
import { type NodeServer, startNodeServer, TEST_JWT_SECRET } from "../testing/node-server.js";
import { ChatClient } from "./seed-004-chat-client.js";

let tdb: TestDatabase;
let server: NodeServer;
const hub = createMemoryHub();
const clients: ChatClient[] = [];
let alice: string;
let bob: string;
let outsider: string;
let conversation: string;

const token = (sub: string, extra: Record<string, unknown> = {}) =>
  pyjwtHs256({ sub, exp: Math.floor(Date.now() / 1000) + 3600, ...extra }, TEST_JWT_SECRET);

function client(userId: string): ChatClient {
  const c = new ChatClient(token(userId), server.url);
  clients.push(c);
  return c;
}

async function newUser(): Promise<string> {
  const email = `${randomUUID()}@example.com`;
  const [u] = await server.database.db
    .insert(schema.users)
    .values({ email, displayName: email, passwordHash: "x" })
    .returning();
  return u!.id;
}

/** The HTTP status a WebSocket upgrade gets (101 when it opens). */
function upgradeStatus(url: string, protocols?: string | string[]): Promise<number> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url, protocols);
    ws.on("open", () => {
      ws.close();
      resolve(101);
    });
    ws.on("unexpected-response", (_req, res) => resolve(res.statusCode ?? 0));
    ws.on("error", () => {});
  });
}

beforeAll(async () => {
  tdb = await createTestDatabase(inject("pgAdminUrl"));
  server = await startNodeServer({ databaseUrl: tdb.url, hub });
  [alice, bob, outsider] = [await newUser(), await newUser(), await newUser()];
  const [c] = await server.database.db
    .insert(schema.conversations)
    .values({ private: false, alias: "t" })
    .returning();
  conversation = c!.id;
  await server.database.db.insert(schema.conversationMembers).values([
    { conversationId: conversation, userId: alice },
    { conversationId: conversation, userId: bob },
  ]);
});

afterAll(async () => {
  for (const c of clients) c.disconnect();
  await server?.close();
  await tdb?.drop();
});

describe("chat:{id} with seed 004's ChatClient", () => {
  it("joins, sends, receives the broadcast on every member's socket, persists, pings", async () => {
    const a = client(alice);
    const b = client(bob);
    await a.joinConversation(conversation);
    await b.joinConversation(conversation);

    const reply = (await a.sendMessage(conversation, "Hello, world!")) as { id: string; seq: number };
    expect(reply).toMatchObject({ id: expect.any(String), seq: 1 });

    for (const c of [a, b]) await waitFor(() => c.received.length === 1, { what: "new_msg broadcast" });
    const msg = a.received[0] as Record<string, unknown>;
    expect(msg).toEqual({
      id: reply.id,
      content: { text: "Hello, world!" },
      sender_id: alice,
      inserted_at: expect.stringMatching(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/),
      seq: 1,
    });
    expect(b.received[0]).toEqual(msg);

    const [row] = await server.database.db
      .select()
      .from(schema.messages)
      .where(eq(schema.messages.id, reply.id));
    expect(row).toMatchObject({ content: { text: "Hello, world!" }, recipientId: null });

    expect(await a.ping(conversation, { n: 1, nested: { ok: true } })).toEqual({
      n: 1,
      nested: { ok: true },
    });
  });

  it("delivers a burst to every member exactly once, in seq order", async () => {
    const a = client(alice);
    const b = client(bob);
    await a.joinConversation(conversation);
    await b.joinConversation(conversation);
    const sends = Array.from({ length: 50 }, (_, i) => a.sendMessage(conversation, `m${i}`));
    await Promise.all(sends);
    await waitFor(() => b.received.length >= 50, { what: "50 broadcasts" });
    const seqs = (b.received as Array<{ seq: number; content: { text: string } }>).map((m) => m.seq);
    expect(seqs).toEqual([...seqs].sort((x, y) => x - y));
    expect(new Set(seqs).size).toBe(50);
    expect((b.received as Array<{ content: { text: string } }>).map((m) => m.content.text)).toEqual(
      Array.from({ length: 50 }, (_, i) => `m${i}`),
    );
  });

  it("refuses non-members and malformed ids with an error reply, and the socket keeps working", async () => {
    const o = client(outsider);
    await expect(o.joinConversation(conversation)).rejects.toEqual({ reason: "unauthorized" });
    o.channels.clear();
    await expect(o.joinConversation("not-a-uuid")).rejects.toEqual({ reason: "invalid topic" });
    // The refused channels keep retrying in the client; the socket itself is fine.
    expect(o.socket.isConnected()).toBe(true);
  });

  it("validates new_msg bodies and answers unknown events with an error", async () => {
    const a = client(alice);
    const ch = await a.joinConversation(conversation);
    const before = await server.database.db
      .select({ n: sql<number>`count(*)::int` })
      .from(schema.messageGroups);
    const push = (event: string, payload: object) =>
      new Promise((resolve) =>
        ch
          .push(event, payload)
          .receive("error", resolve)
          .receive("ok", () => resolve("ok")),
      );
    for (const payload of [{ body: "" }, { body: "   " }, { body: 42 }, {}, { body: "x".repeat(10_001) }]) {
      expect(await push("new_msg", payload)).toMatchObject({
        reason: "invalid_payload",
        errors: { body: [expect.any(String)] },
      });
    }
    expect(await push("what", {})).toEqual({ reason: "unknown event", event: "what" });
    const after = await server.database.db
      .select({ n: sql<number>`count(*)::int` })
      .from(schema.messageGroups);
    expect(after[0]!.n).toBe(before[0]!.n);
    expect(a.received).toEqual([]);
  });

  it("answers Failed to save when the database refuses the write, and broadcasts nothing", async () => {
    const a = client(alice);
    const b = client(bob);
    await a.joinConversation(conversation);
    await b.joinConversation(conversation);
    await server.database.db.execute(
      sql`alter table messages add constraint refuse_all check (false) not valid`,
    );
    try {
      await expect(a.sendMessage(conversation, "lost?")).rejects.toEqual({ reason: "Failed to save" });
    } finally {
      await server.database.db.execute(sql`alter table messages drop constraint refuse_all`);
    }
    await a.sendMessage(conversation, "after");
    await waitFor(() => b.received.length === 1);
    expect((b.received[0] as { content: { text: string } }).content.text).toBe("after");
  });

  it("closes a user's sockets (1001) when the cluster says disconnect_user", async () => {
    const a = client(alice);
    await a.joinConversation(conversation);
    const closed = new Promise<number>((resolve) =>
      a.socket.onClose((e: { code: number }) => resolve(e.code)),
    );
    const other = createMemoryBus({ hub, nodeId: "api-node" });
    other.publish(USERS_CONTROL_TOPIC, {
      kind: "control",
      topic: USERS_CONTROL_TOPIC,
      action: "disconnect_user",
      data: alice,
    });
    expect(await closed).toBe(1001);
    await other.close();
  });
});

describe("authentication at connect", () => {
  const url = (t?: string) =>
    `${server.url}/websocket?vsn=2.0.0${t === undefined ? "" : `&token=${encodeURIComponent(t)}`}`;
  const now = () => Math.floor(Date.now() / 1000);

  it("accepts seed 004's PyJWT tokens, with and without exp, by params.token and by authToken", async () => {
    expect(await upgradeStatus(url(token(alice)))).toBe(101);
    expect(await upgradeStatus(url(pyjwtHs256({ sub: alice }, TEST_JWT_SECRET)))).toBe(101);
    const b64 = Buffer.from(token(alice)).toString("base64").replace(/=+$/, "");
    expect(await upgradeStatus(url(), ["phoenix", `base64url.bearer.phx.${b64}`])).toBe(101);

    const socket = new Socket(server.url, {
      authToken: token(alice),
      transport: WebSocket as unknown as typeof globalThis.WebSocket,
    });
    const opened = new Promise<void>((resolve) => socket.onOpen(() => resolve()));
    socket.connect();
    await opened;
    socket.disconnect();
  });

  it.each([
    ["no token", undefined],
    ["garbage", "not-a-jwt"],
    ["alg none", unsignedJwt({ sub: randomUUID() })],
    ["HS512", hs512({ sub: randomUUID() }, TEST_JWT_SECRET)],
    ["wrong secret", pyjwtHs256({ sub: randomUUID() }, "another-secret-of-sufficient-length-000")],
    ["expired", pyjwtHs256({ sub: randomUUID(), exp: now() - 60 }, TEST_JWT_SECRET)],
    ["non-UUID sub", pyjwtHs256({ sub: "user-42" }, TEST_JWT_SECRET)],
    ["missing sub", pyjwtHs256({ exp: now() + 60 }, TEST_JWT_SECRET)],
  ])("refuses %s with HTTP 403", async (_name, t) => {
    expect(await upgradeStatus(url(t))).toBe(403);
  });

  it("refuses tokens issued before the user signed out everywhere", async () => {
    const user = await newUser();
    const old = pyjwtHs256({ sub: user, iat: now() - 120, exp: now() + 600 }, TEST_JWT_SECRET);
    expect(await upgradeStatus(url(old))).toBe(101);
    await server.database.db
      .update(schema.users)
      .set({ tokensValidAfter: new Date().toISOString() })
      .where(eq(schema.users.id, user));
    // The node caches valid-after times; the sign-out event tells it to re-read.
    const other = createMemoryBus({ hub, nodeId: "api-node-2" });
    other.publish(USERS_CONTROL_TOPIC, {
      kind: "control",
      topic: USERS_CONTROL_TOPIC,
      action: "disconnect_user",
      data: user,
    });
    await waitFor(async () => (await upgradeStatus(url(old))) === 403, { what: "old token refused" });
    await other.close();
  });
});

describe("seed 004's open mode (CHAT_OPEN_JOIN)", () => {
  it("lets any authenticated user join any chat:{uuid}; the conversation appears with its first message", async () => {
    const open = await startNodeServer({ databaseUrl: tdb.url, chatOpenJoin: true, nodeId: "open-node" });
    try {
      const stranger = randomUUID(); // known only to the external token issuer
      const room = randomUUID();
      const c = new ChatClient(token(stranger), open.url);
      clients.push(c);
      await c.joinConversation(room);
      expect(
        await open.database.db.select().from(schema.conversations).where(eq(schema.conversations.id, room)),
      ).toEqual([]);
      await c.sendMessage(room, "first!");
      const [conv] = await open.database.db
        .select()
        .from(schema.conversations)
        .where(eq(schema.conversations.id, room));
      expect(conv).toMatchObject({ private: false, lastSeq: 1 });
      await waitFor(() => c.received.length === 1);
    } finally {
      await open.close();
    }
  });
});
