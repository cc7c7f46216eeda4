/**
 * Numbered `chat:` broadcasts reach members in seq order even when the bus delivers them out of
 * order or loses one: a gap that stays open is filled from Postgres (fanout/seq-orderer.ts).
 * The "other node" here is a second bus on the same in-memory hub, publishing what a gateway
 * publishes, so the test can reorder and drop at will.
 */
import { randomUUID } from "node:crypto";
import { createMemoryBus, createMemoryHub } from "@nexus/bus";
import { appendMessageGroup, schema } from "@nexus/db";
import { createTestDatabase, type TestDatabase, waitFor } from "@nexus/testkit";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { newMsgPayload } from "../channels/chat-channel.js";
import { pyjwtHs256 } from "../testing/jwt.js";
import { type NodeServer, startNodeServer, TEST_JWT_SECRET } from "../testing/node-server.js";
import { ChatClient } from "./seed-004-chat-client.js";

let tdb: TestDatabase;
let server: NodeServer;
const hub = createMemoryHub();
let member: string;
let sender: string;
let conversation: string;
let client: ChatClient;

beforeAll(async () => {
  tdb = await createTestDatabase(inject("pgAdminUrl"));
  server = await startNodeServer({ databaseUrl: tdb.url, hub });
  const db = server.database.db;
  const mk = async () => {
    const email = `${randomUUID()}@example.com`;
    const [u] = await db
      .insert(schema.users)
      .values({ email, displayName: email, passwordHash: "x" })
      .returning();
    return u!.id;
  };
  [member, sender] = [await mk(), await mk()];
  const [c] = await db.insert(schema.conversations).values({ private: false }).returning();
  conversation = c!.id;
  await db.insert(schema.conversationMembers).values([
    { conversationId: conversation, userId: member },
    { conversationId: conversation, userId: sender },
  ]);
  client = new ChatClient(pyjwtHs256({ sub: member }, TEST_JWT_SECRET), server.url);
  await client.joinConversation(conversation);
});

afterAll(async () => {
  client?.disconnect();
  await server?.close();
  await tdb?.drop();
});

describe("numbered broadcasts across nodes", () => {
  it("reorders, and fills a message lost on the bus from Postgres", async () => {
    const other = createMemoryBus({ hub, nodeId: "other-node" });
    const topic = `chat:${conversation}`;
    // What another gateway does after saving: store, then publish with the seq.
    const save = async (text: string) => {
      const g = await appendMessageGroup(server.database.db, {
        conversationId: conversation,
        senderId: sender,
        contents: [{ recipientId: null, content: { text } }],
      });
      const m = g.messages[0]!;
      return { seq: g.seq, payload: JSON.stringify(newMsgPayload({ ...m, senderId: sender })) };
    };
    const publish = (b: { seq: number; payload: string }) =>
      other.publish(topic, { kind: "broadcast", topic, event: "new_msg", payload: b.payload, seq: b.seq });

    const [m1, m2, m3, m4, m5] = [
      await save("one"),
      await save("two"),
      await save("three"),
      await save("four"),
      await save("five"),
    ];
    publish(m1!);
    publish(m3!); // ahead of a gap
    publish(m2!); // the gap closes: 2 then 3
    publish(m5!); // ahead again; m4 is "lost" on the bus and must come from Postgres
    await waitFor(() => client.received.length >= 5, { what: "five messages", timeoutMs: 5_000 });

    const got = client.received as Array<{ seq: number; content: { text: string }; sender_id: string }>;
    expect(got.map((m) => m.seq)).toEqual([1, 2, 3, 4, 5]);
    expect(got.map((m) => m.content.text)).toEqual(["one", "two", "three", "four", "five"]);
    expect(got[3]!.sender_id).toBe(sender);
    expect(server.gateway.stats().fanout.gapsFilled).toBe(1);

    // The lost message's late original is not delivered twice.
    publish(m4!);
    const m6 = await save("six");
    publish(m6);
    await waitFor(() => client.received.length >= 6);
    expect(got.map((m) => m.seq)).toEqual([1, 2, 3, 4, 5, 6]);
    await other.close();
  });
});
