/**
 * The Redis rate limiter on a 3-master Redis Cluster, with the client the api builds from
 * REDIS_URL + REDIS_CLUSTER=true: counters on every master all count and expire, two api nodes
 * share them, and a master that is down lets its requests through.
 */
import { randomBytes } from "node:crypto";
import { type RedisCluster, redisCommand, startRedisCluster, waitFor } from "@nexus/testkit";
import type { Cluster, Redis } from "ioredis";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { rateLimitRedis } from "./from-config.js";
import { createRedisRateLimiter } from "./rate-limit.js";

let cluster: RedisCluster;
const clients: Array<Redis | Cluster> = [];
beforeAll(async () => {
  cluster = await startRedisCluster();
});
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.quit().catch(() => c.disconnect())));
  for (const n of cluster.nodes) await n.start(); // a test may have killed one
  await cluster.healthy();
});
afterAll(async () => {
  await cluster?.stop();
});

async function limiter(prefix: string) {
  const redis = rateLimitRedis(cluster.url, true);
  clients.push(redis);
  // Until its connection to a master is open, the limiter lets that master's keys through.
  await waitFor(
    () => redis.status === "ready" && (redis as Cluster).nodes("master").every((n) => n.status === "ready"),
    {
      what: "connections to every master",
    },
  );
  return createRedisRateLimiter({ redis, prefix, log: { warn() {} } });
}

/** The master (index in cluster.nodes) holding `key`, as Redis itself reports it. */
async function masterOf(key: string): Promise<number> {
  const slot = Number(await redisCommand(cluster.nodes[0]!.port, "CLUSTER", "KEYSLOT", key));
  return cluster.nodes.findIndex((n) => slot >= n.slots[0] && slot <= n.slots[1]);
}

describe("rate limits on a Redis Cluster", () => {
  it("counts each key on the master owning it, on every master, and two api nodes share the counts", async () => {
    const prefix = `test:${randomBytes(4).toString("hex")}:`;
    const [a, b] = [await limiter(prefix), await limiter(prefix)];
    // Random keys, four per master (CRC16 puts keys that differ in a digit or two close together).
    const keys: string[] = [];
    const perMaster = [0, 0, 0];
    while (perMaster.some((n) => n < 4)) {
      const key = `login_email:${randomBytes(6).toString("hex")}@example.com`;
      const m = await masterOf(prefix + key);
      if (perMaster[m]! >= 4) continue;
      perMaster[m]!++;
      keys.push(key);
    }

    const rule = { limit: 2, windowMs: 60_000 };
    const decisions = await Promise.all(
      keys.map(async (k) => [await a.hit(k, rule), await b.hit(k, rule), await a.hit(k, rule)]),
    );
    for (const [first, second, third] of decisions) {
      expect([first, second]).toEqual([{ ok: true }, { ok: true }]);
      expect(third!.ok).toBe(false);
      expect(!third!.ok && third!.retryAfterMs).toBeGreaterThan(0);
      expect(!third!.ok && third!.retryAfterMs).toBeLessThanOrEqual(60_000);
    }
    // The counters really are in Redis, each on its own master.
    for (const k of keys) {
      const port = cluster.nodes[await masterOf(prefix + k)]!.port;
      expect(await redisCommand(port, "GET", prefix + k)).toBe("3");
    }
  });

  it("a counter's window expires and opens again", async () => {
    const l = await limiter(`test:${randomBytes(4).toString("hex")}:`);
    const rule = { limit: 1, windowMs: 300 };
    expect(await l.hit("k", rule)).toEqual({ ok: true });
    expect((await l.hit("k", rule)).ok).toBe(false);
    await new Promise((r) => setTimeout(r, 350));
    expect(await l.hit("k", rule)).toEqual({ ok: true });
  });

  it("a master that is down lets the requests it counts through", async () => {
    const prefix = `test:${randomBytes(4).toString("hex")}:`;
    const l = await limiter(prefix);
    let key = "k";
    while ((await masterOf(prefix + key)) !== 2) key = `k${randomBytes(4).toString("hex")}`;
    await cluster.nodes[2]!.kill();
    expect(await l.hit(key, { limit: 0, windowMs: 1_000 })).toEqual({ ok: true });
  });
});
