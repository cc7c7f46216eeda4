/**
 * Faults with real gateway processes: a gateway SIGKILLed, Redis killed and restarted under a
 * live cluster, a gateway stopped with SIGTERM, clients vanishing without a close frame. Each
 * test boots its own gateways on a Redis this file owns (it is killed here) and leaves nothing
 * running behind it.
 */
import {
  createTestDatabase,
  pingRedis,
  type RedisServer,
  startRedis,
  type TestDatabase,
  waitFor,
} from "@nexus/testkit";
import { Redis } from "ioredis";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, inject, it } from "vitest";
import type { ChatClient } from "../chat/seed-004-chat-client.js";
import { startBalancer } from "./balancer.js";
import { Cluster, type GatewayProcess } from "./cluster-harness.js";
import {
  busChannel,
  Clients,
  closeCodes,
  isJoined,
  JWT_SECRET,
  messages,
  numsub,
  RawSocket,
  receivedAtLeast,
  seedConversation,
  sendAll,
} from "./fixtures.js";
import { watchReadyz } from "./readyz-watch.js";

let redis: RedisServer;
let inspector: Redis;
let tdb: TestDatabase;
let cluster: Cluster;
const clients = new Clients();
const cleanups: Array<() => unknown> = [];

beforeAll(async () => {
  [redis, tdb] = await Promise.all([startRedis(), createTestDatabase(inject("pgAdminUrl"))]);
  inspector = new Redis(redis.url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  inspector.on("error", () => {}); // it loses Redis too, on purpose
  await inspector.connect();
});

beforeEach(() => {
  cluster = new Cluster({ databaseUrl: tdb.url, redisUrl: redis.url, jwtSecret: JWT_SECRET });
});

afterEach(async () => {
  clients.disconnectAll();
  for (const f of cleanups.splice(0)) await f();
  await cluster.killAll();
  // A test that failed mid-outage must not leave the next one without Redis.
  if (!(await pingRedis(redis.port))) await redis.start();
});

afterAll(async () => {
  inspector?.disconnect();
  await Promise.all([redis?.stop(), tdb?.drop()]);
});

const seqs = (c: ChatClient) => messages(c).map((m) => m.seq);
const texts = (c: ChatClient) => messages(c).map((m) => m.content.text);
const readyz = (nodes: GatewayProcess[]) => Promise.all(nodes.map((n) => n.readyz()));

describe("a gateway killed with SIGKILL", () => {
  it("the others keep serving, and its clients come back through the balancer and on its restart", async () => {
    const [a, b, c] = (await cluster.startAll(["node-a", "node-b", "node-c"])) as [
      GatewayProcess,
      GatewayProcess,
      GatewayProcess,
    ];
    const lb = await startBalancer([b.port, a.port]); // prefers b while it is up
    cleanups.push(() => lb.close());
    const { conversationId: conv, users } = await seedConversation(tdb.url, 4);
    const [onA, onC, onB, viaLb] = users as [string, string, string, string];
    const ua = await clients.joined(onA, a.socketUrl, conv);
    const uc = await clients.joined(onC, c.socketUrl, conv);
    const ub = await clients.joined(onB, b.socketUrl, conv); // will retry b's own address
    const ulb = await clients.joined(viaLb, lb.socketUrl, conv);
    expect((await b.stats()).connections).toBe(2); // ub and ulb both landed on b
    const survivorCloses = [closeCodes(ua), closeCodes(uc)];

    await ua.sendMessage(conv, "before");
    for (const u of [ua, uc, ub, ulb]) await receivedAtLeast(u, 1);

    await b.process.kill("SIGKILL");

    // The survivors: ready, and their clients still talk to each other across nodes.
    expect(await readyz([a, c])).toEqual([200, 200]);
    await sendAll(ua, conv, ["during-1", "during-2"]);
    await sendAll(uc, conv, ["during-3"]);
    for (const u of [ua, uc]) await receivedAtLeast(u, 4);
    expect(texts(uc)).toEqual(["before", "during-1", "during-2", "during-3"]);
    expect(texts(ua)).toEqual(texts(uc));

    // The balancer's client reconnects, lands on a, and its channel rejoins by itself.
    await waitFor(() => isJoined(ulb, conv), { what: "the balancer's client rejoined" });
    expect((await a.stats()).connections).toBe(2);
    await uc.sendMessage(conv, "after-failover");
    await waitFor(() => texts(ulb).includes("after-failover"), { what: "failover client receives" });

    // b comes back on its address (a new process, so a new node id); its client returns to it.
    const b2 = await cluster.start("node-b2", b.port);
    await waitFor(() => isJoined(ub, conv), {
      what: "b's client rejoined on the restarted node",
      timeoutMs: 15_000,
    });
    expect((await b2.stats()).connections).toBe(1);
    await ua.sendMessage(conv, "after-restart");
    for (const u of [ua, uc, ub, ulb]) {
      await waitFor(() => texts(u).includes("after-restart"), { what: "after-restart everywhere" });
    }
    expect(survivorCloses).toEqual([[], []]);
    expect(await readyz([a, c, b2])).toEqual([200, 200, 200]);
    // Redis sees exactly the three live nodes on the topic: the dead one's subscription went with its connection.
    expect(await numsub(inspector, busChannel(`chat:${conv}`))).toBe(3);
  });
});

describe("Redis restarting under the cluster", () => {
  it("every gateway is not ready while it is down, ready after, and broadcasts resume without a restart", async () => {
    const nodes = await cluster.startAll(["node-a", "node-b", "node-c"]);
    const [a, b, c] = nodes as [GatewayProcess, GatewayProcess, GatewayProcess];
    const { conversationId: conv, users } = await seedConversation(tdb.url, 3);
    const [onA, onB, onC] = users as [string, string, string];
    const ua = await clients.joined(onA, a.socketUrl, conv);
    const ub = await clients.joined(onB, b.socketUrl, conv);
    const uc = await clients.joined(onC, c.socketUrl, conv);
    // A second room that c holds no subscription for yet.
    const room2 = await seedConversation(tdb.url, 2);
    const [host, lateJoiner] = room2.users as [string, string];
    const uHost = await clients.joined(host, a.socketUrl, room2.conversationId);
    // And a room c holds now but whose only member there leaves during the outage.
    const room3 = await seedConversation(tdb.url, 2);
    await clients.joined(room3.users[0]!, a.socketUrl, room3.conversationId);
    const leaver = await clients.joined(room3.users[1]!, c.socketUrl, room3.conversationId);
    expect(await numsub(inspector, busChannel(`chat:${room3.conversationId}`))).toBe(2);
    await ua.sendMessage(conv, "before"); // seq 1
    for (const u of [ua, ub, uc]) await receivedAtLeast(u, 1);
    const errorsBefore = (await a.stats()).bus.publishErrors;

    await redis.kill();
    await waitFor(async () => (await readyz(nodes)).every((s) => s === 503), {
      what: "every node not ready",
    });

    // While Redis is down a message is still saved and answered (Postgres is the truth); its
    // publish is dropped and counted, so only the sender's own node delivers it live.
    const during = (await ua.sendMessage(conv, "during")) as { seq: number };
    expect(during.seq).toBe(2);
    await waitFor(async () => (await a.stats()).bus.publishErrors > errorsBefore, {
      what: "the drop counted",
    });
    leaver.leaveConversation(room3.conversationId);
    await waitFor(async () => (await c.stats()).fanout.topics === 1, { what: "c to drop room 3" });
    // A join that needs a new SUBSCRIBE is answered during the outage: a join blocks its socket
    // and an outage may last minutes. The bus subscribes it once Redis is back, and numbered
    // messages it missed meanwhile come from Postgres.
    const late = await clients.joined(lateJoiner, c.socketUrl, room2.conversationId);
    expect((await c.stats()).fanout.topics).toBe(2);

    await redis.start();
    await waitFor(async () => (await readyz(nodes)).every((s) => s === 200), {
      what: "every node ready again",
    });
    await waitFor(async () => (await numsub(inspector, busChannel(`chat:${conv}`))) === 3, {
      what: "every node resubscribed",
    });
    expect(await numsub(inspector, busChannel(`chat:${room2.conversationId}`))).toBe(2);
    // The resubscribe follows what each node holds now, not what it held when Redis went away.
    expect(await numsub(inspector, busChannel(`chat:${room3.conversationId}`))).toBe(1);

    await ua.sendMessage(conv, "after-a"); // seq 3
    await ub.sendMessage(conv, "after-b"); // seq 4
    await uHost.sendMessage(room2.conversationId, "welcome back");
    for (const u of [ua, ub, uc]) {
      await waitFor(() => texts(u).includes("after-b"), { what: "broadcasts flowing again" });
    }
    await receivedAtLeast(late, 1);
    // Seq 3 shows b and c the hole at 2, which they fill from Postgres (fanout/seq-orderer.ts):
    // the message Redis never carried still arrives, once and in its place.
    for (const u of [ua, ub, uc]) expect(seqs(u)).toEqual([1, 2, 3, 4]);
    expect(texts(late)).toEqual(["welcome back"]);
    expect(nodes.map((n) => n.alive())).toEqual([true, true, true]);
  });
});

describe("a gateway stopped with SIGTERM", () => {
  it("goes not-ready, closes its sockets with 1012, exits 0; its clients move to the other node", async () => {
    const [a, b] = (await cluster.startAll(["node-a", "node-b"])) as [GatewayProcess, GatewayProcess];
    const lb = await startBalancer([b.port, a.port]);
    cleanups.push(() => lb.close());
    const { conversationId: conv, users } = await seedConversation(tdb.url, 2);
    const [onA, viaLb] = users as [string, string];
    const ua = await clients.joined(onA, a.socketUrl, conv);
    const moving = await clients.joined(viaLb, lb.socketUrl, conv);
    expect((await b.stats()).connections).toBe(1);
    const codes = closeCodes(moving);
    const watch = await watchReadyz(b.port);
    cleanups.push(() => watch.stop());
    await waitFor(() => watch.statuses.length > 0, { what: "a first /readyz answer" });

    expect(await b.process.kill("SIGTERM")).toBe(0);
    await watch.closed;
    await waitFor(() => codes.length > 0, { what: "the client to see its socket closed" });
    expect(codes[0]).toBe(1012);
    // Over a connection opened before the signal (the listen socket closes at once, so only such
    // a connection can still ask), /readyz went 200 → 503 "draining" before the exit, never back.
    expect(watch.statuses.join(",")).toMatch(/^(200,)*200(,503)+$/);

    await waitFor(() => isJoined(moving, conv), { what: "the drained client rejoined on a" });
    await ua.sendMessage(conv, "after-drain");
    await waitFor(() => texts(moving).includes("after-drain"), { what: "the moved client receives" });
    expect(await a.readyz()).toBe(200);
  });
});

describe("clients that vanish without a close frame", () => {
  it("do not disturb the node: it stays up and ready and drops their subscriptions", async () => {
    const [a, b] = (await cluster.startAll(["node-a", "node-b"])) as [GatewayProcess, GatewayProcess];
    const { conversationId: conv, users } = await seedConversation(tdb.url, 2);
    const [member, sender] = users as [string, string];
    const topic = `chat:${conv}`;
    const raws = await Promise.all(Array.from({ length: 20 }, () => RawSocket.open(a.socketUrl, member)));
    cleanups.push(() => {
      for (const r of raws) r.close();
    });
    const joins = raws.map((r) => r.push("1", topic, "phx_join"));
    await waitFor(() => raws.every((r, i) => r.replyTo(joins[i]!)), { what: "20 joins answered" });
    const ub = await clients.joined(sender, b.socketUrl, conv);
    expect(await numsub(inspector, busChannel(topic))).toBe(2);

    // The TCP connection ends with no WebSocket close frame: the server sees 1006, as with a
    // phone losing signal. (A build that touched the closed socket in uWS's close handler
    // crashed here: "Invalid access of closed uWS.WebSocket".)
    for (const r of raws) r.close();
    await waitFor(async () => (await a.stats()).connections === 0, { what: "a to notice the drops" });
    await waitFor(async () => (await numsub(inspector, busChannel(topic))) === 1, { what: "a unsubscribed" });
    expect(a.alive()).toBe(true);
    expect(await a.readyz()).toBe(200);
    expect((await a.stats()).fanout.topics).toBe(0);
    await ub.sendMessage(conv, "still here");
    await receivedAtLeast(ub, 1);
  });
});
