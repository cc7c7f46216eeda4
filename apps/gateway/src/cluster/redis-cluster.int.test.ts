/**
 * Two real gateway processes (dist/main.js) with REDIS_CLUSTER=true on a throwaway 3-master Redis
 * Cluster and a real Postgres: a chat message sent on one node reaches a member on the other over
 * sharded pub/sub, each node subscribed on the master that owns the conversation's channel.
 */
import {
  createTestDatabase,
  type RedisCluster,
  redisCommand,
  startRedisCluster,
  type TestDatabase,
} from "@nexus/testkit";
import { Redis } from "ioredis";
import { afterAll, afterEach, beforeAll, expect, inject, it } from "vitest";
import { Cluster, type GatewayProcess } from "./cluster-harness.js";
import { busChannel, Clients, JWT_SECRET, messages, receivedAtLeast, seedConversation } from "./fixtures.js";

let redis: RedisCluster;
let tdb: TestDatabase;
let cluster: Cluster;
let a: GatewayProcess;
let b: GatewayProcess;
const clients = new Clients();

beforeAll(async () => {
  [redis, tdb] = await Promise.all([startRedisCluster(), createTestDatabase(inject("pgAdminUrl"))]);
  cluster = new Cluster({
    databaseUrl: tdb.url,
    redisUrl: redis.url,
    jwtSecret: JWT_SECRET,
    env: { REDIS_CLUSTER: "true" },
  });
  [a, b] = (await cluster.startAll(["node-a", "node-b"])) as [GatewayProcess, GatewayProcess];
});

afterEach(() => {
  clients.disconnectAll();
});

afterAll(async () => {
  await cluster?.killAll();
  await Promise.all([redis?.stop(), tdb?.drop()]);
});

/** Subscribers of `channel` on the master that owns it, as that master reports them. */
async function shardSubscribers(channel: string): Promise<number> {
  const slot = Number(await redisCommand(redis.nodes[0]!.port, "CLUSTER", "KEYSLOT", channel));
  const owner = redis.nodes.find((n) => slot >= n.slots[0] && slot <= n.slots[1])!;
  const conn = new Redis(owner.url);
  try {
    const [, count] = (await conn.call("PUBSUB", "SHARDNUMSUB", channel)) as [string, number];
    return Number(count);
  } finally {
    conn.disconnect();
  }
}

it("a message sent on one node reaches a member on the other, both ways, over sharded pub/sub", async () => {
  const { conversationId: conv, users } = await seedConversation(tdb.url, 2);
  const [onA, onB] = users as [string, string];
  const ca = await clients.joined(onA, a.socketUrl, conv);
  const cb = await clients.joined(onB, b.socketUrl, conv);
  expect(await shardSubscribers(busChannel(`chat:${conv}`))).toBe(2);
  // A node publishes its first presence heartbeat before its bus is ready; only what follows counts.
  const before = await Promise.all([a.stats(), b.stats()]);

  await ca.sendMessage(conv, "from a");
  await receivedAtLeast(cb, 1);
  await cb.sendMessage(conv, "from b");
  await receivedAtLeast(ca, 2);
  await receivedAtLeast(cb, 2);
  for (const c of [ca, cb]) expect(messages(c).map((m) => m.content.text)).toEqual(["from a", "from b"]);

  // Over the bus, not read back from Postgres: each node received the other's broadcast.
  const after = await Promise.all([a.stats(), b.stats()]);
  for (const [i, s] of after.entries()) {
    expect(s.bus.received - before[i]!.bus.received).toBeGreaterThanOrEqual(1);
    expect(s.bus.publishErrors - before[i]!.bus.publishErrors).toBe(0);
  }
});
