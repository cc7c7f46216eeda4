/**
 * The catalog the AsyncAPI document is built from, against the code: the real channel handlers
 * (on embedded PGlite, with the real presence tracker) and the real api publishing its events
 * (asyncapi/testing.ts).
 * - Each channel handles exactly the client events documented for it: every other event, among
 *   those its source names and those documented anywhere, is answered "unknown event".
 * - Join refusals, replies and sent events parse with the documented (strict) schemas; where a
 *   schema was written by hand from the code (chat:), it accepts exactly what the handler accepts.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Db } from "@nexus/db";
import { SYSTEM_GENERAL_TOPIC } from "@nexus/protocol";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { z } from "zod";
import type { ChannelHandler } from "../channels/channel.js";
import { createChatChannel } from "../channels/chat-channel.js";
import { createRouter } from "../channels/router.js";
import { TOPICS, type TopicDoc } from "./catalog.js";
import { ChatNewMsgIn, ChatPingIn, ChatPresenceFieldsIn, UnknownEvent } from "./payloads.js";
import { ADMIN_TOKEN, documentedReply, silentLog, startWorld, TestChannel, type World } from "./testing.js";

const CHANNELS_DIR = fileURLToPath(new URL("../channels/", import.meta.url));
const topicDoc = (id: string): TopicDoc => TOPICS.find((t) => t.id === id)!;
const serverEvent = (doc: TopicDoc, event: string) =>
  doc.serverEvents.find((e) => e.event === event)!.payload;

let w: World;
beforeAll(async () => {
  w = await startWorld();
}, 60_000);
afterAll(() => w?.close());

describe("each channel handles exactly its documented client events", () => {
  // Candidates: every event a handler's source names in a `case`, every documented event, and more.
  const sources = readdirSync(CHANNELS_DIR).filter((f) => f.endsWith("-channel.ts"));
  const cases = sources.flatMap((f) =>
    [...readFileSync(join(CHANNELS_DIR, f), "utf8").matchAll(/case "([^"]+)":/g)].map((m) => m[1]!),
  );
  const candidates = new Set([
    ...cases,
    ...TOPICS.flatMap((t) => [...t.clientEvents, ...t.serverEvents].map((e) => e.event)),
    ...["heartbeat", "phx_reply", "no_such_event"],
  ]);

  it("the handlers' sources were read", () => {
    expect(sources).toHaveLength(TOPICS.length);
    expect(cases).toEqual(
      expect.arrayContaining(["new_msg", "update_presence", "ping", "update_msg", "delete_msg"]),
    );
  });

  for (const doc of TOPICS) {
    it(doc.address, async () => {
      const id = doc.id === "user" ? w.a.id : w.conversationId;
      const topic = doc.example.replace(/[0-9a-f-]{36}$/, id);
      const channel = await w.join(doc, topic, w.a);
      channel.drain(doc);
      // The documented address is what the route serves.
      expect(createRouter({ [doc.route]: channel.handler }).route(topic)).toBe(channel.handler);
      const documented = new Set(doc.clientEvents.map((e) => e.event));
      for (const event of candidates) {
        // A payload every handler refuses: nothing is stored or sent.
        const r = await channel.push(event, null);
        expect(r.status, event).toBe("error");
        if (documented.has(event)) documentedReply(doc, event, r);
        else
          expect(UnknownEvent.parse(r.response), `${doc.id} ${event}`).toEqual({
            reason: "unknown event",
            event,
          });
      }
      expect(channel.sent).toEqual([]);
    });
  }
});

describe("join refusals are documented", () => {
  const cases: Array<[id: string, topic: () => string, user: () => string, reason: string]> = [
    ["chat", () => "chat:not-a-uuid", () => w.a.id, "invalid topic"],
    ["chat", () => `chat:${w.conversationId}`, () => w.outsider.id, "unauthorized"],
    ["conversation", () => "conversation:nope", () => w.a.id, "invalid topic"],
    ["conversation", () => `conversation:${w.conversationId.toUpperCase()}`, () => w.a.id, "invalid topic"],
    ["conversation", () => `conversation:${w.conversationId}`, () => w.outsider.id, "unauthorized"],
    ["user", () => "user:nope", () => w.a.id, "invalid topic"],
    ["user", () => `user:${w.b.id}`, () => w.a.id, "unauthorized"],
    ["user", () => `user:${w.a.id.toUpperCase()}`, () => w.a.id, "unauthorized"],
  ];
  for (const [id, topic, user, reason] of cases) {
    it(`${id}: ${reason}`, async () => {
      const result = await new TestChannel(w.handlers[id]!, topic(), user(), w.tracker).join();
      expect(result.ok).toBe(false);
      expect(topicDoc(id).joinRefusal.parse(!result.ok && result.reply)).toEqual({ reason });
    });
  }
});

describe("chat:{conversation_id}", () => {
  const doc = topicDoc("chat");

  it("sends the documented presence_state, presence_diff and new_msg", async () => {
    // Its own spelling, so that this test's presence is its own.
    const topic = `chat:${w.conversationId.toUpperCase()}`;
    const first = await w.join(doc, topic, w.a);
    const second = await w.join(doc, topic, w.b);
    const [state] = second.drain(doc);
    expect(Object.keys(state!.payload as object)).toEqual([w.a.id]);
    first.drain(doc);

    expect(documentedReply(doc, "new_msg", await first.push("new_msg", { body: "hello" })).status).toBe("ok");
    expect(first.drain(doc)).toMatchObject([
      { event: "new_msg", payload: { content: { text: "hello" }, sender_id: w.a.id } },
    ]);
    documentedReply(doc, "update_presence", await first.push("update_presence", { status: "away" }));
    documentedReply(doc, "ping", await first.push("ping", { n: 1 }));

    // a joins, b joins, a updates: three documented diffs.
    const diffs = w.diffs.filter((d) => d.topic === topic).map((d) => d.diff);
    expect(diffs).toHaveLength(3);
    for (const diff of diffs) serverEvent(doc, "presence_diff").parse(diff);
    expect(diffs[2]!.joins[w.a.id]!.metas[0]).toMatchObject({
      status: "away",
      phx_ref_prev: expect.any(String),
    });
  });

  const nine = Object.fromEntries([..."abcdefghi"].map((k) => [k, 1]));
  const { i: _, ...eight } = nine;
  const samples: Array<[event: string, schema: z.ZodType, payloads: unknown[]]> = [
    [
      "new_msg",
      ChatNewMsgIn,
      [{ body: "hi" }, { body: "hi", extra: 1 }, { body: "x".repeat(10_000) }, { body: "x".repeat(10_001) }]
        .concat([{ body: "" }, { body: " \n\t" }, { body: 5 } as never, {} as never])
        .concat([null, "hi", []] as never[]),
    ],
    [
      "update_presence",
      ChatPresenceFieldsIn,
      [{}, { status: "away", typing: true, n: 1.5 }, eight, nine, { online_at: "x" }, { phx_ref: "x" }]
        .concat([{ a: "x".repeat(257) }, { a: null }, { a: {} }, { a: [] }] as never[])
        .concat([null, [], "x", new Uint8Array([1, 2])] as never[]),
    ],
    ["ping", ChatPingIn, [{}, { a: [1, { b: null }] }, null, [], 5, "x"]],
  ];
  for (const [event, schema, payloads] of samples) {
    it(`${event}: the documented schema accepts what the handler accepts`, async () => {
      const channel = await w.join(doc, `chat:${w.conversationId}`, w.a);
      for (const payload of payloads) {
        const r = documentedReply(doc, event, await channel.push(event, payload));
        expect(schema.safeParse(payload).success, `${event} ${JSON.stringify(payload)}`).toBe(
          r.status === "ok",
        );
      }
      channel.drain(doc);
    });
  }

  it("a failed save answers the documented error and sends nothing", async () => {
    const failing = createChatChannel({
      db: {} as Db,
      membership: { isMember: async () => true, invalidate() {} },
      openJoin: false,
      log: silentLog,
    });
    const channel = new TestChannel(failing as ChannelHandler, `chat:${w.conversationId}`, w.a.id, w.tracker);
    const r = documentedReply(doc, "new_msg", await channel.push("new_msg", { body: "lost" }));
    expect(r).toEqual({ status: "error", response: { reason: "Failed to save" } });
    expect(channel.sent).toEqual([]);
  });
});

describe("conversation:{conversation_id}", () => {
  const doc = topicDoc("conversation");

  it("answers and sends the documented payloads; keys_uploaded comes from the api", async () => {
    const topic = `conversation:${w.conversationId}`;
    await w.capture(topic);
    const [a, b] = [w.a, w.b];
    const channel = await w.join(doc, topic, a);
    const both = (text: string) =>
      [a, b].map((u) => ({ recipient_id: u.id, content: `${text} for ${u.id}` }));
    const push = async (event: string, payload: unknown) =>
      documentedReply(doc, event, await channel.push(event, payload));

    expect((await push("new_msg", { messages: both("early") })).response).toMatchObject({
      reason: "keys_missing",
    });
    for (const u of [a, b]) {
      await w.call("PUT", `/api/conversations/${w.conversationId}/keys`, u.token, {
        public_key: "p",
        private_key: "s",
      });
      const uploaded = serverEvent(doc, "keys_uploaded").parse(await w.published(topic, "keys_uploaded"));
      expect(uploaded).toEqual({ user_id: u.id });
    }
    expect((await push("new_msg", { messages: both("x").slice(1) })).response).toMatchObject({
      reason: "recipients_mismatch",
      missing: [a.id],
    });
    const sent = await push("new_msg", { messages: both("hi") });
    expect(sent.status).toBe("ok");
    const group = (sent.response as { message_group: string }).message_group;
    expect(
      channel
        .drain(doc)
        .map((s) => s.to)
        .sort(),
    ).toEqual([a.id, b.id].sort());

    expect((await push("update_msg", { message_group: group, messages: both("edited") })).status).toBe("ok");
    expect(channel.drain(doc).map((s) => s.event)).toEqual(["update_msg", "update_msg"]);

    const asB = await w.join(doc, topic, b);
    const notSender = documentedReply(
      doc,
      "delete_msg",
      await asB.push("delete_msg", { message_group: group }),
    );
    expect(notSender.response).toEqual({ reason: "not_sender" });
    expect((await push("delete_msg", { message_group: group })).status).toBe("ok");
    expect(channel.drain(doc)).toEqual([
      { event: "delete_msg", payload: { message_group: group }, delivery: "broadcast" },
    ]);
    expect((await push("delete_msg", { message_group: group })).response).toEqual({ reason: "not_found" });
  });
});

describe("system:general and user:{user_id}", () => {
  const system = topicDoc("system");
  const user = topicDoc("user");

  it("system:general: presence_state, presence_diff, and the api's announcement", async () => {
    const before = w.diffs.length;
    const channel = await w.join(system, SYSTEM_GENERAL_TOPIC, w.a);
    expect(channel.drain(system).map((s) => s.event)).toEqual(["presence_state"]);
    const diffs = w.diffs.slice(before);
    expect(diffs.map((d) => d.topic)).toEqual([SYSTEM_GENERAL_TOPIC]);
    serverEvent(system, "presence_diff").parse(diffs[0]!.diff);

    const sent = await w.call("POST", "/api/announcements", ADMIN_TOKEN, { text: "Maintenance at 22:00" });
    const announced = await w.published(SYSTEM_GENERAL_TOPIC, "announcement");
    expect(serverEvent(system, "announcement").parse(announced)).toEqual(sent!.announcement);
  });

  it("user: the api's conversation_added, profile_updated, conversation_removed and signed_out", async () => {
    const { a, b, outsider, conversationId } = w;
    const parse = async (u: { id: string }, event: string) =>
      serverEvent(user, event).parse(await w.published(`user:${u.id}`, event));

    // b was added when the conversation was created (testing.ts).
    expect(await parse(b, "conversation_added")).toMatchObject({ conversation: { id: conversationId } });
    const profile = await w.call("PATCH", "/api/profile", a.token, { theme: "night" });
    expect(await parse(a, "profile_updated")).toEqual(profile);
    await w.call("POST", `/api/conversations/${conversationId}/members`, a.token, {
      user_ids: [outsider.id],
    });
    await parse(outsider, "conversation_added");
    await w.call("DELETE", `/api/conversations/${conversationId}/members/${outsider.id}`, a.token);
    expect(await parse(outsider, "conversation_removed")).toEqual({ conversation_id: conversationId });
    await w.call("POST", "/api/signout_all", a.token);
    expect(await parse(a, "signed_out")).toEqual({ reason: "signout_all" });

    // Every broadcast the api made on the captured topics was a documented event, checked above.
    expect(w.untaken()).toEqual([]);
  });
});
