/**
 * Three real gateway processes (dist/main.js) on one Redis and one Postgres database, driven
 * by seed 004's ChatClient (the official phoenix client over `ws`): what a member on one node
 * sends reaches members on every node exactly once and in seq order, and a node with no
 * member on a topic neither subscribes to it on Redis nor hears its traffic.
 */

import { appendMessageGroup, createDb } from "@nexus/db";
import { parsePrometheusText, type Sample, sampleSum } from "@nexus/http";
import { createTestDatabase, type RedisServer, startRedis, type TestDatabase, waitFor } from "@nexus/testkit";
import { Redis } from "ioredis";
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from "vitest";
import type { ChatClient } from "../chat/seed-004-chat-client.js";
import { Cluster, type GatewayProcess } from "./cluster-harness.js";
import {
  busChannel,
  Clients,
  inversions,
  JWT_SECRET,
  messages,
  numsub,
  RawSocket,
  receivedAtLeast,
  seedConversation,
  sendAll,
  subscriptionsByNode,
  waitIdle,
} from "./fixtures.js";

let redis: RedisServer;
let inspector: Redis;
let tdb: TestDatabase;
let cluster: Cluster;
let a: GatewayProcess;
let b: GatewayProcess;
let c: GatewayProcess;
const clients = new Clients();
const raws: RawSocket[] = [];

beforeAll(async () => {
  // A Redis of our own: the gateways use the fixed "nexus" channel prefix, and the
  // subscription counts below must not see other test files' nodes.
  [redis, tdb] = await Promise.all([startRedis(), createTestDatabase(inject("pgAdminUrl"))]);
  inspector = new Redis(redis.url, { lazyConnect: true });
  await inspector.connect();
  cluster = new Cluster({ databaseUrl: tdb.url, redisUrl: redis.url, jwtSecret: JWT_SECRET });
  [a, b, c] = (await cluster.startAll(["node-a", "node-b", "node-c"])) as [
    GatewayProcess,
    GatewayProcess,
    GatewayProcess,
  ];
});

afterEach(async () => {
  clients.disconnectAll();
  for (const r of raws.splice(0)) r.close();
  // The next test starts from a quiet cluster, as Redis itself reports it.
  await waitIdle([a, b, c], inspector);
});

afterAll(async () => {
  await cluster?.killAll();
  inspector?.disconnect();
  await Promise.all([redis?.stop(), tdb?.drop()]);
});

const bodies = (tag: string, n: number) => Array.from({ length: n }, (_, i) => `${tag}${i}`);
const texts = (c: ChatClient) => messages(c).map((m) => m.content.text);
const seqs = (c: ChatClient) => messages(c).map((m) => m.seq);

describe("broadcasts across nodes", () => {
  it("one sender's 150 messages reach every member on every node exactly once, in seq order", async () => {
    const { conversationId: conv, users } = await seedConversation(tdb.url, 4);
    const [sender, onA, onB, onC] = users as [string, string, string, string];
    const s = await clients.joined(sender, a.socketUrl, conv);
    const receivers = [
      s, // Phoenix `broadcast`, not `broadcast_from`: the sender gets its own messages too
      await clients.joined(onA, a.socketUrl, conv),
      await clients.joined(onB, b.socketUrl, conv),
      await clients.joined(onC, c.socketUrl, conv),
    ];

    const sent = bodies("m", 150);
    const replies = await sendAll(s, conv, sent);
    // The replies tell us which seq each message got; one socket's pushes are handled in order.
    expect(replies.map((r) => r.seq)).toEqual(sent.map((_, i) => i + 1));
    // A fence after everything: once it is in, nothing earlier can still be on its way.
    await s.sendMessage(conv, "fence");
    for (const r of receivers) await receivedAtLeast(r, sent.length + 1);

    for (const r of receivers) {
      expect(texts(r)).toEqual([...sent, "fence"]);
      expect(seqs(r)).toEqual([...sent, "fence"].map((_, i) => i + 1));
      expect(
        messages(r)
          .slice(0, -1)
          .map((m) => m.id),
      ).toEqual(replies.map((x) => x.id));
    }
  });

  /** A warm-up, 100 messages from each sender and a fence from each. */
  const TOTAL = 203;

  /** Senders on a and b, 100 messages each, sent concurrently; members on a, b and c. */
  async function interleave() {
    const { conversationId: conv, users } = await seedConversation(tdb.url, 5);
    const [senderA, senderB, onA, onB, onC] = users as [string, string, string, string, string];
    const sa = await clients.joined(senderA, a.socketUrl, conv);
    const sb = await clients.joined(senderB, b.socketUrl, conv);
    const receivers = [
      sa,
      sb,
      await clients.joined(onA, a.socketUrl, conv),
      await clients.joined(onB, b.socketUrl, conv),
      await clients.joined(onC, c.socketUrl, conv),
    ];
    // One message first, so every node's seq baseline is set before the race (the race on a
    // room's very first messages is the known bug below).
    await sa.sendMessage(conv, "a-warmup");
    for (const r of receivers) await receivedAtLeast(r, 1);
    const fromA = bodies("a", 100);
    const fromB = bodies("b", 100);
    await Promise.all([sendAll(sa, conv, fromA), sendAll(sb, conv, fromB)]);
    await sa.sendMessage(conv, "a-fence");
    await sb.sendMessage(conv, "b-fence");
    for (const r of receivers) await receivedAtLeast(r, TOTAL);
    return { receivers, fromA: ["a-warmup", ...fromA, "a-fence"], fromB: [...fromB, "b-fence"] };
  }

  it("two senders on different nodes, interleaving: every member gets all of them exactly once, each sender's in order", async () => {
    const { receivers, fromA, fromB } = await interleave();
    for (const r of receivers) {
      const got = messages(r);
      expect(got).toHaveLength(TOTAL);
      expect([...seqs(r)].sort((x, y) => x - y)).toEqual(got.map((_, k) => k + 1));
      expect(new Set(got.map((m) => m.id)).size).toBe(TOTAL);
      // One socket's pushes are handled one after another, so each sender's messages keep their order.
      expect(texts(r).filter((t) => t.startsWith("a"))).toEqual(fromA);
      expect(texts(r).filter((t) => t.startsWith("b"))).toEqual(fromB);
    }
  });

  // Seq is assigned at commit, but the broadcast leaves after it: without reordering, a node
  // delivers its own sender's seq n+1 before the other node's seq n is through Redis, and two
  // nodes' PUBLISHes reach Redis in whatever order their event loops get there (measured before
  // fanout/seq-orderer.ts: 2-11 inversions per member out of 202, in every run).
  it("two senders on different nodes: every member sees one strictly increasing seq order", async () => {
    const { receivers } = await interleave();
    for (const r of receivers) expect(inversions(seqs(r))).toEqual([]);
  });

  // KNOWN BUG, marked `fails` so the suite stays green and flips red once fixed (then drop
  // `.fails`). The orderer takes the first numbered broadcast a node sees for a topic as its
  // baseline, so an earlier seq that arrives later, or never (a lost publish), is treated as
  // history and dropped for members who joined before it was sent. Here seq 1 is committed but
  // its publish is lost, as at-most-once allows; seq 2 then opens the topic's baseline on b.
  // The same happens without any loss when two nodes send a room's first messages at once: in
  // 120 trials, 4 had a node deliver its own seq 2 first and drop the other node's seq 1.
  it("a lost publish of a room's first message is filled in from Postgres", async () => {
    const { conversationId: conv, users } = await seedConversation(tdb.url, 2);
    const [sender, onB] = users as [string, string];
    const s = await clients.joined(sender, a.socketUrl, conv);
    const m = await clients.joined(onB, b.socketUrl, conv);
    const handle = createDb({ kind: "postgres", url: tdb.url, poolSize: 1 });
    try {
      // Committed like a gateway commits it, but never published.
      const lost = await appendMessageGroup(handle.db, {
        conversationId: conv,
        senderId: sender,
        contents: [{ recipientId: null, content: { text: "lost" } }],
      });
      expect(lost.seq).toBe(1);
    } finally {
      await handle.close();
    }
    await s.sendMessage(conv, "second");
    await s.sendMessage(conv, "fence");
    await waitFor(() => texts(m).includes("fence"), { what: "the fence on b" });
    expect(seqs(m)).toEqual([1, 2, 3]);
  });
});

describe("a node without members on a topic", () => {
  it("is not subscribed to it on Redis and hears none of its traffic", async () => {
    const { conversationId: conv, users } = await seedConversation(tdb.url, 2);
    const [onA, onB] = users as [string, string];
    const topic = `chat:${conv}`;
    const ra = await clients.joined(onA, a.socketUrl, conv);
    const rb = await clients.joined(onB, b.socketUrl, conv);
    // A member of c is connected, just not to this topic.
    const elsewhere = await seedConversation(tdb.url, 1);
    await clients.joined(elsewhere.users[0]!, c.socketUrl, elsewhere.conversationId);

    expect(await numsub(inspector, busChannel(topic))).toBe(2);
    const subsBefore = await subscriptionsByNode(inspector);
    const [cBefore, bBefore] = await Promise.all([c.stats(), b.stats()]);

    await sendAll(ra, conv, bodies("x", 50));
    await receivedAtLeast(rb, 50);

    const [cAfter, bAfter] = await Promise.all([c.stats(), b.stats()]);
    expect(cAfter.fanout.remoteBroadcasts - cBefore.fanout.remoteBroadcasts).toBe(0);
    // The counter does move where the topic has members: b heard all 50 from a. (bus.received
    // is not compared: every node also hears the cluster-wide presence heartbeats.)
    expect(bAfter.fanout.remoteBroadcasts - bBefore.fanout.remoteBroadcasts).toBe(50);
    // Neither the topic's channel nor its presence channel reaches c.
    expect(await numsub(inspector, busChannel(topic))).toBe(2);
    expect(await numsub(inspector, busChannel(`presence:t:${topic}`))).toBe(2);
    expect((await subscriptionsByNode(inspector)).get("node-c")).toBe(subsBefore.get("node-c"));
  });

  it("subscribes with its first member and unsubscribes after its last, through join/leave churn", async () => {
    const { conversationId: conv, users } = await seedConversation(tdb.url, 3);
    const [onA, churner, watcher] = users as [string, string, string];
    const topic = `chat:${conv}`;
    const channel = busChannel(topic);
    const sender = await clients.joined(onA, a.socketUrl, conv);
    expect(await numsub(inspector, channel)).toBe(1);
    const subsOfC = async () => (await subscriptionsByNode(inspector)).get("node-c");
    // c's standing subscriptions (user control events, presence control, its presence inbox).
    const standing = await subsOfC();

    // Join/leave back to back on one socket, 25 times, without waiting for replies; ends left.
    // The socket handles them in order, so the node's bus subscription flips on and off while
    // SUBSCRIBE/UNSUBSCRIBE acks are still in flight.
    const raw = await RawSocket.open(c.socketUrl, churner);
    raws.push(raw);
    let lastLeave = "";
    for (let i = 0; i < 25; i++) {
      raw.push(`j${i}`, topic, "phx_join");
      lastLeave = raw.push(`j${i}`, topic, "phx_leave");
    }
    await waitFor(() => raw.replyTo(lastLeave), { what: "the last leave answered" });
    await waitFor(async () => (await numsub(inspector, channel)) === 1, {
      what: "c unsubscribed after churn",
    });
    await waitFor(async () => (await subsOfC()) === standing, {
      what: "c back to its standing subscriptions",
    });
    expect((await c.stats()).fanout.topics).toBe(0);

    // Churn again, ending joined: c holds exactly one subscription and delivers each message once.
    for (let i = 0; i < 25; i++) {
      raw.push(`k${i}`, topic, "phx_join");
      raw.push(`k${i}`, topic, "phx_leave");
    }
    const finalJoin = raw.push("final", topic, "phx_join");
    await waitFor(() => raw.replyTo(finalJoin), { what: "the final join answered" });
    expect(raw.replyTo(finalJoin)![4]).toEqual({ status: "ok", response: {} });
    expect(await numsub(inspector, channel)).toBe(2);
    // Exactly two more: the topic and its presence.
    await waitFor(async () => (await subsOfC()) === standing! + 2, {
      what: "c holding the topic and its presence",
    });
    const w = await clients.joined(watcher, c.socketUrl, conv);
    await sendAll(sender, conv, bodies("y", 20));
    await sender.sendMessage(conv, "fence");
    await receivedAtLeast(w, 21);
    await waitFor(() => raw.events("new_msg").length >= 21, { what: "21 broadcasts on the raw socket" });
    const expected = Array.from({ length: 21 }, (_, i) => i + 1);
    expect(raw.events("new_msg").map((f) => (f[4] as { seq: number }).seq)).toEqual(expected);
    expect(seqs(w)).toEqual(expected);
    expect((await c.stats()).fanout.topics).toBe(1);
  });
});

describe("GET /metrics (Prometheus)", () => {
  async function scrape(node: GatewayProcess): Promise<Sample[]> {
    const res = await fetch(`http://127.0.0.1:${node.port}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/plain; version=0\.0\.4/);
    return parsePrometheusText(await res.text());
  }
  const value = sampleSum;

  it("reports each node's sockets, broadcasts, bus and handler timings, from the real counters", async () => {
    const { conversationId: conv, users } = await seedConversation(tdb.url, 2);
    const [onA, onB] = users as [string, string];
    const [beforeA, beforeB] = [await scrape(a), await scrape(b)];
    const s = await clients.joined(onA, a.socketUrl, conv);
    const r = await clients.joined(onB, b.socketUrl, conv);
    await sendAll(s, conv, bodies("m", 3));
    await receivedAtLeast(r, 3);
    const raw = await RawSocket.open(a.socketUrl, onA);
    raws.push(raw);
    const topic = `chat:${conv}`;
    const join = raw.push("j", topic, "phx_join");
    await waitFor(() => raw.replyTo(join), { what: "the raw join answered" });
    const bogus = raw.push("j", topic, "no_such_event", {});
    await waitFor(() => raw.replyTo(bogus), { what: "the unknown event answered" });
    const [afterA, afterB] = [await scrape(a), await scrape(b)];

    const delta = (
      after: typeof afterA,
      before: typeof afterA,
      name: string,
      labels?: Record<string, string>,
    ) => value(after, name, labels) - value(before, name, labels);
    // Every row carries the node it came from.
    expect(afterA.find((x) => x.name === "nexus_gateway_connections")?.labels).toMatchObject({
      node: "node-a",
      service: "gateway",
    });
    expect(value(afterA, "nexus_gateway_connections")).toBeGreaterThanOrEqual(2);
    expect(delta(afterA, beforeA, "nexus_gateway_connects_total")).toBe(2);
    const newMsg = { channel: "chat", event: "new_msg", status: "ok" };
    expect(delta(afterA, beforeA, "nexus_channel_handle_in_duration_seconds_count", newMsg)).toBe(3);
    expect(delta(afterA, beforeA, "nexus_channel_handle_in_duration_seconds_sum", newMsg)).toBeGreaterThan(0);
    // Client-chosen event names never become label values.
    expect(afterA.some((x) => x.labels.event === "no_such_event")).toBe(false);
    expect(
      delta(afterA, beforeA, "nexus_channel_handle_in_duration_seconds_count", {
        channel: "chat",
        event: "other",
        status: "error",
      }),
    ).toBe(1);
    expect(
      delta(afterA, beforeA, "nexus_channel_join_duration_seconds_count", { channel: "chat", status: "ok" }),
    ).toBe(2);
    expect(delta(afterA, beforeA, "nexus_gateway_broadcasts_total", { origin: "local" })).toBe(3);
    expect(delta(afterB, beforeB, "nexus_gateway_broadcasts_total", { origin: "remote" })).toBe(3);
    expect(delta(afterA, beforeA, "nexus_bus_published_total")).toBeGreaterThanOrEqual(3);
    expect(value(afterB, "nexus_bus_ready")).toBe(1);
    expect(value(afterB, "nexus_presence_peers_up")).toBe(2);
    // Node's own process metrics come along (prom-client defaults).
    expect(value(afterA, "process_cpu_seconds_total")).toBeGreaterThan(0);
    expect(afterA.some((x) => x.name.startsWith("nodejs_eventloop_lag"))).toBe(true);
  });
});
