/**
 * GET /api/messages and GET /api/users: keyset pages that stay exact while rows are inserted,
 * the caller's view only, membership enforced, page tokens that cannot be forged or moved.
 */
import { appendMessageGroup, schema } from "@nexus/db";
import { createTestDatabase, type TestDatabase } from "@nexus/testkit";
import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { type ApiServer, startApiServer } from "../testing/api-server.js";
import { type Registered, register, TIMESTAMP_RE, UUID_RE } from "../testing/fixtures.js";

let tdb: TestDatabase;
let server: ApiServer;
let alice: Registered;
let bob: Registered;
let carol: Registered;
let groupA: string; // alice + bob
let privateB: string; // bob + carol

interface Item {
  id: string;
  sender: string;
  content: unknown;
  message_group: string;
  seq: number;
  inserted_at: string;
  updated_at: string;
}
interface Page<T> {
  items: T[];
  page_token: string | null;
}

async function send(conversationId: string, senderId: string, members: string[], i: number) {
  return appendMessageGroup(server.database.db, {
    conversationId,
    senderId,
    contents: members.map((m) => ({ recipientId: m, content: `cipher ${i} for ${m}` })),
  });
}

beforeAll(async () => {
  tdb = await createTestDatabase(inject("pgAdminUrl"));
  server = await startApiServer({ databaseUrl: tdb.url });
  [alice, bob, carol] = [await register(server), await register(server), await register(server)];
  const a = await server.call("POST", "/api/conversations", {
    token: alice.authToken,
    body: { private: false, user_ids: [bob.id], alias: "A" },
  });
  groupA = (a.json as { conversation: { id: string } }).conversation.id;
  const b = await server.call("POST", "/api/conversations", {
    token: bob.authToken,
    body: { private: true, user_ids: [carol.id] },
  });
  privateB = (b.json as { conversation: { id: string } }).conversation.id;
  // 1,050 groups, each with one ciphertext per member; every 10th is a plaintext chat message.
  for (let i = 1; i <= 1050; i++) {
    const sender = i % 2 === 0 ? alice.id : bob.id;
    if (i % 10 === 0) {
      await appendMessageGroup(server.database.db, {
        conversationId: groupA,
        senderId: sender,
        contents: [{ recipientId: null, content: { text: `chat ${i}` } }],
      });
    } else {
      await send(groupA, sender, [alice.id, bob.id], i);
    }
  }
  await send(privateB, carol.id, [bob.id, carol.id], 0);
}, 120_000);
afterAll(async () => {
  await server?.close();
  await tdb?.drop();
});

const messages = (token: string, query: string) => server.call("GET", `/api/messages?${query}`, { token });

describe("GET /api/messages", () => {
  it("the newest page by default (50), items in the seed's shape plus seq", async () => {
    const res = await messages(alice.authToken, `conversation_id=${groupA}`);
    expect(res.status).toBe(200);
    const page = res.json as Page<Item>;
    expect(page.items).toHaveLength(50);
    expect(page.page_token).toEqual(expect.any(String));
    expect(page.items[0]).toEqual({
      id: expect.stringMatching(UUID_RE),
      sender: alice.id,
      content: { text: "chat 1050" }, // a plaintext chat: message, shared by every member
      message_group: expect.stringMatching(UUID_RE),
      seq: 1050,
      inserted_at: expect.stringMatching(TIMESTAMP_RE),
      updated_at: expect.stringMatching(TIMESTAMP_RE),
    });
    expect(page.items[1]).toEqual({
      id: expect.stringMatching(UUID_RE),
      sender: bob.id,
      content: `cipher 1049 for ${alice.id}`,
      message_group: expect.stringMatching(UUID_RE),
      seq: 1049,
      inserted_at: expect.stringMatching(TIMESTAMP_RE),
      updated_at: expect.stringMatching(TIMESTAMP_RE),
    });
    expect(page.items.map((m) => m.seq)).toEqual(Array.from({ length: 50 }, (_, i) => 1050 - i));
  });

  it("pages through 1,000+ messages while new ones arrive: each existing one exactly once, newest first", async () => {
    const before = (await server.database.db.execute(
      sql`select max(seq)::int as m from message_groups where conversation_id = ${groupA}`,
    )) as unknown as { m: number }[];
    const maxSeq = before[0]!.m;
    let writing = true;
    let written = 0;
    const writer = (async () => {
      while (writing) {
        await send(groupA, bob.id, [alice.id, bob.id], 10_000 + written++);
      }
    })();
    const seen: Item[] = [];
    let token: string | null = null;
    let pages = 0;
    do {
      const res = await messages(
        alice.authToken,
        `conversation_id=${groupA}&page_size=100${token ? `&page_token=${encodeURIComponent(token)}` : ""}`,
      );
      expect(res.status).toBe(200);
      const page = res.json as Page<Item>;
      seen.push(...page.items);
      token = page.page_token;
      pages++;
    } while (token !== null);
    writing = false;
    await writer;
    expect(written).toBeGreaterThan(0);

    const old = seen.filter((m) => m.seq <= maxSeq);
    expect(old.map((m) => m.seq)).toEqual(Array.from({ length: maxSeq }, (_, i) => maxSeq - i));
    expect(new Set(seen.map((m) => m.id)).size).toBe(seen.length);
    for (let i = 1; i < seen.length; i++) expect(seen[i]!.seq).toBeLessThan(seen[i - 1]!.seq);
    // Only what is addressed to alice (or to everyone).
    expect(
      seen.every((m) => typeof m.content === "object" || String(m.content).endsWith(`for ${alice.id}`)),
    ).toBe(true);
    expect(pages).toBeGreaterThanOrEqual(11);
  });

  it("bob sees his own ciphertexts of the same groups", async () => {
    const page = (await messages(bob.authToken, `conversation_id=${groupA}&page_size=5`)).json as Page<Item>;
    expect(
      page.items.every((m) => typeof m.content === "object" || String(m.content).endsWith(`for ${bob.id}`)),
    ).toBe(true);
  });

  it("a member of one conversation cannot read another: 403; a missing one: 404", async () => {
    const res = await messages(carol.authToken, `conversation_id=${groupA}`);
    expect(res.status).toBe(403);
    expect(res.json).toEqual({ errors: { detail: "Not a member of this conversation" } });
    expect((await messages(alice.authToken, `conversation_id=${privateB}`)).status).toBe(403);
    expect(
      (await messages(alice.authToken, "conversation_id=00000000-0000-4000-8000-000000000000")).status,
    ).toBe(404);
    expect((await messages(carol.authToken, `conversation_id=${privateB}`)).status).toBe(200);
  });

  it("refuses forged, edited, foreign and garbage page tokens with 422", async () => {
    const page = (await messages(alice.authToken, `conversation_id=${groupA}&page_size=10`))
      .json as Page<Item>;
    const good = page.page_token!;
    const [body, mac] = good.split(".") as [string, string];
    const forgedCursor = `${Buffer.from(JSON.stringify([5])).toString("base64url")}.${mac}`;
    // The first MAC character (the last one carries padding bits a decoder may ignore).
    const flipped = `${body}.${mac.startsWith("A") ? "B" : "A"}${mac.slice(1)}`;
    const usersToken = (
      (await server.call("GET", "/api/users?page_size=1", { token: alice.authToken })).json as Page<unknown>
    ).page_token!;
    const bobsToken = (
      (await messages(bob.authToken, `conversation_id=${groupA}&page_size=10`)).json as Page<Item>
    ).page_token!;
    const bobsOtherConversation = (
      (await messages(bob.authToken, `conversation_id=${privateB}&page_size=1`)).json as Page<Item>
    ).page_token;
    expect(bobsOtherConversation).toBeNull(); // one message there: a single page

    for (const [who, conversation, token] of [
      [alice, groupA, forgedCursor],
      [alice, groupA, flipped],
      [alice, groupA, usersToken],
      [alice, groupA, bobsToken], // another user's token for the same conversation
      [bob, privateB, bobsToken], // bob's token moved to another conversation
      [alice, groupA, "garbage"],
      [alice, groupA, "x".repeat(2000)],
    ] as const) {
      const res = await messages(
        who.authToken,
        `conversation_id=${conversation}&page_token=${encodeURIComponent(token)}`,
      );
      expect({ token, status: res.status }).toEqual({ token, status: 422 });
      expect(res.json).toEqual({ errors: { page_token: expect.any(Array) } });
    }
    expect(
      (await messages(alice.authToken, `conversation_id=${groupA}&page_token=${encodeURIComponent(good)}`))
        .status,
    ).toBe(200);
  });

  it("validates the query", async () => {
    const cases: [string, Record<string, string[]>][] = [
      ["", { conversation_id: ["can't be blank"] }],
      ["conversation_id=nope", { conversation_id: ["is invalid"] }],
      [`conversation_id=${groupA}&page_size=101`, { page_size: ["must be less than or equal to 100"] }],
      [`conversation_id=${groupA}&page_size=0`, { page_size: ["must be greater than or equal to 1"] }],
      [`conversation_id=${groupA}&page_size=abc`, { page_size: ["is invalid"] }],
      [`conversation_id=${groupA}&page_size=2.5`, { page_size: ["is invalid"] }],
    ];
    for (const [query, errors] of cases) {
      const res = await messages(alice.authToken, query);
      expect({ query, status: res.status, json: res.json }).toEqual({ query, status: 422, json: { errors } });
    }
    expect((await server.call("GET", `/api/messages?conversation_id=${groupA}`)).status).toBe(401);
  });
});

describe("GET /api/users", () => {
  it("every user exactly once, newest first, in pages of the size asked", async () => {
    for (let i = 0; i < 20; i++) await register(server);
    const total = Number(
      (await server.database.db.select({ n: sql<string>`count(*)` }).from(schema.users))[0]!.n,
    );
    const seen: { id: string; email: string; display_name: string }[] = [];
    let token: string | null = null;
    do {
      const res = await server.call(
        "GET",
        `/api/users?page_size=7${token ? `&page_token=${encodeURIComponent(token)}` : ""}`,
        {
          token: carol.authToken,
        },
      );
      expect(res.status).toBe(200);
      const page = res.json as Page<{ id: string; email: string; display_name: string }>;
      expect(page.items.length).toBeLessThanOrEqual(7);
      seen.push(...page.items);
      token = page.page_token;
    } while (token !== null);
    expect(seen).toHaveLength(total);
    expect(new Set(seen.map((u) => u.id)).size).toBe(total);
    expect(Object.keys(seen[0]!).sort()).toEqual(["display_name", "email", "id"]);
    const order = await server.database.db
      .select({ id: schema.users.id })
      .from(schema.users)
      .orderBy(sql`inserted_at desc, id desc`);
    expect(seen.map((u) => u.id)).toEqual(order.map((u) => u.id));
  });

  it("defaults to 50 and refuses bad sizes and tokens", async () => {
    const res = await server.call("GET", "/api/users", { token: alice.authToken });
    expect((res.json as Page<unknown>).items.length).toBeLessThanOrEqual(50);
    const msgToken = (
      (await messages(alice.authToken, `conversation_id=${groupA}&page_size=1`)).json as Page<Item>
    ).page_token!;
    for (const q of ["page_size=500", "page_token=garbage", `page_token=${encodeURIComponent(msgToken)}`]) {
      expect((await server.call("GET", `/api/users?${q}`, { token: alice.authToken })).status).toBe(422);
    }
  });
});
