/**
 * Seed 000's channels across processes (issue 6): three gateway processes, one api process,
 * Redis and Postgres.
 * - `conversation:{id}`: three members, each on a different gateway, receive only the ciphertext
 *   addressed to them, for new, updated and deleted messages; non-members and non-senders are
 *   refused; membership changes made through the api reach the right sockets wherever they are.
 * - `system:general`: hidden users are absent from presence on every node, and toggling
 *   `hidden` through the api makes them leave or appear everywhere; announcements reach all.
 */
import { randomUUID } from "node:crypto";
import { createDb, createUser } from "@nexus/db";
import { createTestDatabase, type TestDatabase, waitFor } from "@nexus/testkit";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { type ApiProcess, startApi } from "./api-process.js";
import { Cluster, type GatewayProcess } from "./cluster-harness.js";
import { JWT_SECRET, tokenFor } from "./fixtures.js";
import { MemberSocket } from "./member-socket.js";

const ADMIN_TOKEN = "cluster-admin-token-0123456789abcdef";
let tdb: TestDatabase;
let cluster: Cluster;
let nodes: GatewayProcess[];
let api: ApiProcess;
const sockets: MemberSocket[] = [];

async function seedUsers(n: number): Promise<string[]> {
  const handle = createDb({ kind: "postgres", url: tdb.url, poolSize: 1 });
  try {
    const ids: string[] = [];
    for (let i = 0; i < n; i++) {
      const email = `${randomUUID()}@example.com`;
      const r = await createUser(handle.db, { email, displayName: email, passwordHash: "x" });
      if (!r.ok) throw new Error(r.error);
      ids.push(r.user.id);
    }
    return ids;
  } finally {
    await handle.close();
  }
}

async function open(node: GatewayProcess, userId: string): Promise<MemberSocket> {
  const s = await MemberSocket.open(node.socketUrl, userId);
  sockets.push(s);
  return s;
}

const as = (userId: string) => ({ token: tokenFor(userId) });

beforeAll(async () => {
  tdb = await createTestDatabase(inject("pgAdminUrl"));
  const env = { databaseUrl: tdb.url, redisUrl: inject("redisUrl"), jwtSecret: JWT_SECRET };
  cluster = new Cluster(env);
  [nodes, api] = await Promise.all([
    cluster.startAll(["e2e-a", "e2e-b", "e2e-c"]),
    startApi(env, { ADMIN_TOKEN }),
  ]);
}, 60_000);

afterAll(async () => {
  for (const s of sockets) s.close();
  await cluster?.killAll();
  await api?.process.kill("SIGKILL");
  await tdb?.drop();
});

describe("conversation:{id} across three gateway processes", () => {
  it("routes each member only its own ciphertext, refuses what it must, and follows membership", async () => {
    const [alice, bob, carol, dave] = await seedUsers(4);
    const [a, b, c, d] = await Promise.all([
      open(nodes[0]!, alice!),
      open(nodes[1]!, bob!),
      open(nodes[2]!, carol!),
      open(nodes[0]!, dave!),
    ]);
    for (const s of [a, b, c, d]) expect((await s.join(`user:${s.userId}`)).status).toBe("ok");

    // Created through the api: the others are told on user:{id}, on the node holding them.
    const created = await api.request("POST", "/api/conversations", {
      ...as(alice!),
      body: { private: false, user_ids: [bob, carol], alias: "e2e" },
    });
    expect(created.status).toBe(201);
    const conversationId = (created.body as { conversation: { id: string } }).conversation.id;
    for (const s of [b, c]) {
      const [added] = await s.waitFor(`user:${s.userId}`, "conversation_added");
      expect((added!.conversation as { id: string }).id).toBe(conversationId);
    }
    expect(a.received(`user:${alice}`, "conversation_added")).toEqual([]);

    const topic = `conversation:${conversationId}`;
    for (const s of [a, b, c]) expect(await s.join(topic)).toEqual({ status: "ok", response: {} });
    // A non-member can neither join, nor send without joining, nor read the keys.
    expect(await d.join(topic)).toEqual({ status: "error", response: { reason: "unauthorized" } });
    expect((await d.call(topic, "new_msg", { messages: [] })).response).toEqual({
      reason: "unmatched topic",
    });
    expect((await api.request("GET", `/api/conversations/${conversationId}/keys`, as(dave!))).status).toBe(
      403,
    );
    expect(
      (
        await api.request("PUT", `/api/conversations/${conversationId}/keys`, {
          ...as(dave!),
          body: { public_key: "p", private_key: "q" },
        })
      ).status,
    ).toBe(403);

    const everyone = (tag: string) =>
      [alice, bob, carol].map((id) => ({ recipient_id: id, content: `${tag}-for-${id}` }));

    // Nothing is sent before every member has uploaded keys.
    const early = await a.call(topic, "new_msg", { messages: everyone("early") });
    expect(early.status).toBe("error");
    expect(early.response.reason).toBe("keys_missing");
    expect([...(early.response.user_ids as string[])].sort()).toEqual([alice, bob, carol].sort());

    for (const s of [a, b, c]) {
      const put = await api.request("PUT", `/api/conversations/${conversationId}/keys`, {
        ...as(s.userId),
        body: { public_key: `pub-${s.userId}`, private_key: `priv-${s.userId}` },
      });
      expect(put.status).toBe(204);
    }
    // Every key upload is announced to every member, on every node.
    for (const s of [a, b, c]) {
      const seen = await s.waitFor(topic, "keys_uploaded", 3);
      expect(seen.map((k) => k.user_id).sort()).toEqual([alice, bob, carol].sort());
    }
    const keys = await api.request("GET", `/api/conversations/${conversationId}/keys`, as(bob!));
    expect(keys.body).toMatchObject({ private_key: `priv-${bob}` });
    expect((keys.body as { public_keys: unknown[] }).public_keys).toHaveLength(3);

    // Missing, extra and repeated recipients are refused, and nothing is stored or delivered.
    const missing = await a.call(topic, "new_msg", { messages: everyone("m").slice(0, 2) });
    expect(missing).toEqual({
      status: "error",
      response: { reason: "recipients_mismatch", missing: [carol], unexpected: [] },
    });
    const extra = await a.call(topic, "new_msg", {
      messages: [...everyone("x"), { recipient_id: dave, content: "x-for-dave" }],
    });
    expect(extra).toEqual({
      status: "error",
      response: { reason: "recipients_mismatch", missing: [], unexpected: [dave] },
    });
    const twice = await a.call(topic, "new_msg", { messages: [...everyone("t"), everyone("t")[0]] });
    expect(twice.response.reason).toBe("invalid_payload");
    const malformed = await a.call(topic, "new_msg", { messages: [{ recipient_id: "nope", content: 1 }] });
    expect(malformed.response).toMatchObject({
      reason: "invalid_payload",
      errors: { "messages.0.recipient_id": expect.any(Array), "messages.0.content": expect.any(Array) },
    });

    // A message: one ciphertext per member; each receives exactly its own.
    const sent = await a.call(topic, "new_msg", { messages: everyone("hello") });
    expect(sent.status).toBe("ok");
    const group = sent.response.message_group as string;
    expect(sent.response.seq).toBe(1);
    for (const s of [a, b, c]) {
      const [item] = await s.waitFor(topic, "new_msg");
      expect(item).toEqual({
        id: expect.any(String),
        sender: alice,
        content: `hello-for-${s.userId}`,
        message_group: group,
        seq: 1,
        inserted_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT[\d:.]+Z$/),
        updated_at: expect.any(String),
      });
    }

    // Only the sender may change or delete it.
    const notMine = await b.call(topic, "update_msg", { message_group: group, messages: everyone("evil") });
    expect(notMine).toEqual({ status: "error", response: { reason: "not_sender" } });
    expect(await c.call(topic, "delete_msg", { message_group: group })).toEqual({
      status: "error",
      response: { reason: "not_sender" },
    });
    expect(await a.call(topic, "delete_msg", { message_group: randomUUID() })).toEqual({
      status: "error",
      response: { reason: "not_found" },
    });
    const partial = await a.call(topic, "update_msg", {
      message_group: group,
      messages: everyone("edit").slice(1),
    });
    expect(partial.response.reason).toBe("recipients_mismatch");

    const edited = await a.call(topic, "update_msg", { message_group: group, messages: everyone("edited") });
    expect(edited).toEqual({ status: "ok", response: { message_group: group, seq: 1 } });
    for (const s of [a, b, c]) {
      const [item] = await s.waitFor(topic, "update_msg");
      expect(item).toMatchObject({
        sender: alice,
        content: `edited-for-${s.userId}`,
        message_group: group,
        seq: 1,
      });
    }

    // Through the api, each member reads only their own ciphertext too.
    const page = await api.request("GET", `/api/messages?conversation_id=${conversationId}`, as(carol!));
    expect((page.body as { items: Array<{ content: string }> }).items.map((i) => i.content)).toEqual([
      `edited-for-${carol}`,
    ]);

    expect(await a.call(topic, "delete_msg", { message_group: group })).toEqual({
      status: "ok",
      response: { message_group: group, seq: 1 },
    });
    for (const s of [a, b, c]) {
      expect(await s.waitFor(topic, "delete_msg")).toEqual([{ message_group: group }]);
    }
    const afterDelete = await api.request("GET", `/api/messages?conversation_id=${conversationId}`, as(bob!));
    expect((afterDelete.body as { items: unknown[] }).items).toEqual([]);

    // No member ever received another member's ciphertext, and the non-member nothing at all.
    for (const s of [a, b, c]) {
      for (const other of [alice, bob, carol].filter((id) => id !== s.userId)) {
        expect(s.wireText()).not.toContain(`-for-${other}`);
      }
    }
    expect(d.wireText()).not.toContain("-for-");

    // Carol is removed through the api: her channel on the conversation ends (phx_close) on her
    // node, she is told on user:{id}, and the next message is addressed to the two left.
    expect(
      (await api.request("DELETE", `/api/conversations/${conversationId}/members/${carol}`, as(alice!)))
        .status,
    ).toBe(204);
    await c.waitFor(topic, "phx_close");
    await c.waitFor(`user:${carol}`, "conversation_removed");
    expect((await c.call(topic, "new_msg", { messages: everyone("late") })).response).toEqual({
      reason: "unmatched topic",
    });
    const two = [alice, bob].map((id) => ({ recipient_id: id, content: `second-for-${id}` }));
    const second = await a.call(topic, "new_msg", { messages: two });
    expect(second.response).toMatchObject({ seq: 2 });
    await b.waitFor(topic, "new_msg", 2);
    expect(b.received(topic, "new_msg")[1]).toMatchObject({ content: `second-for-${bob}`, seq: 2 });
    // Given time to arrive, nothing reaches Carol any more.
    await waitFor(() => a.received(topic, "new_msg").length === 2, { what: "alice's copy" });
    expect(c.wireText()).not.toContain("second-for-");
  }, 60_000);
});

describe("system:general across three gateway processes", () => {
  it("shows signed-in users on every node, never hidden ones, and follows the hidden flag at once", async () => {
    const [shown, hidden, watcherA, watcherB, watcherC] = await seedUsers(5);
    expect(
      (await api.request("PATCH", "/api/profile", { ...as(hidden!), body: { hidden: true } })).status,
    ).toBe(200);
    const watchers = await Promise.all([
      open(nodes[0]!, watcherA!),
      open(nodes[1]!, watcherB!),
      open(nodes[2]!, watcherC!),
    ]);
    const topic = "system:general";
    for (const w of watchers) expect((await w.join(topic)).status).toBe("ok");
    const s = await open(nodes[1]!, shown!);
    const h = await open(nodes[2]!, hidden!);
    for (const x of [s, h]) expect((await x.join(topic)).status).toBe("ok");

    const everyView = (expected: string[]) =>
      waitFor(
        () =>
          watchers.every((w) => JSON.stringify(w.presenceKeys(topic)) === JSON.stringify(expected.sort())),
        { what: `every node's view to be ${expected.length} users` },
      );
    const visible = [shown!, watcherA!, watcherB!, watcherC!];
    await everyView(visible);
    // The hidden user sees everyone else, and is in nobody's view, their own included.
    await waitFor(() => JSON.stringify(h.presenceKeys(topic)) === JSON.stringify([...visible].sort()), {
      what: "the hidden user's own view",
    });

    // Showing herself makes her appear on every node; hiding him makes him leave everywhere.
    expect(
      (await api.request("PATCH", "/api/profile", { ...as(hidden!), body: { hidden: false } })).status,
    ).toBe(200);
    await everyView([...visible, hidden!]);
    expect(
      (await api.request("PATCH", "/api/profile", { ...as(shown!), body: { hidden: true } })).status,
    ).toBe(200);
    await everyView([hidden!, watcherA!, watcherB!, watcherC!]);
    // A change that leaves `hidden` as it was sends no presence traffic: when the next real
    // change (announced after it, so applied after it on every node) has arrived, each watcher
    // has exactly one more diff.
    const diffs = watchers.map((w) => w.received(topic, "presence_diff").length);
    expect(
      (await api.request("PATCH", "/api/profile", { ...as(shown!), body: { theme: "night" } })).status,
    ).toBe(200);
    expect(
      (await api.request("PATCH", "/api/profile", { ...as(shown!), body: { hidden: false } })).status,
    ).toBe(200);
    await everyView([...visible, hidden!]);
    expect(watchers.map((w) => w.received(topic, "presence_diff").length)).toEqual(diffs.map((n) => n + 1));

    // An operator's announcement reaches everyone on system:general, on every node.
    const sent = await api.request("POST", "/api/announcements", {
      authorization: `Bearer ${ADMIN_TOKEN}`,
      body: { text: "Maintenance at 22:00" },
    });
    expect(sent.status).toBe(201);
    for (const x of [...watchers, s, h]) {
      expect(await x.waitFor(topic, "announcement")).toEqual([
        (sent.body as { announcement: unknown }).announcement,
      ]);
    }
  }, 60_000);
});
