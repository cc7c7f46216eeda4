/**
 * @module
 * The Bus contract on a real 3-master Redis Cluster (this file's own), plus what only the
 * cluster link promises: channels land on the master owning their slot, so topics spread over
 * every master and each still delivers, batches spanning masters included; subscriptions follow
 * local handlers on every master; and the slot this package computes is the one Redis computes.
 */
import { type RedisCluster, startRedisCluster } from "@nexus/testkit";
import { Cluster, type Redis } from "ioredis";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { broadcast, collector, describeBus, fence, topicName } from "./bus.contract.js";
import type { Bus } from "./bus.js";
import { keySlot } from "./key-slot.js";
import { captureLogger, redisCluster, uniquePrefix } from "./redis-test-helpers.js";

let cluster: RedisCluster;
let admin: Cluster;
beforeAll(async () => {
  cluster = await startRedisCluster();
  admin = new Cluster([cluster.url]);
  await new Promise((resolve) => admin.once("ready", resolve));
});
afterAll(async () => {
  admin?.disconnect();
  await cluster?.stop();
});

describeBus(
  "redis cluster",
  (n) => redisCluster(n, { url: cluster.url, prefix: uniquePrefix(), cluster: true }),
  {
    sameSlot: true,
  },
);

/** Each master, by "host:port", with the channels under `prefix` it holds subscriptions for. */
async function shardChannels(prefix: string): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>();
  for (const node of admin.nodes("master")) {
    const list = (await node.call("PUBSUB", "SHARDCHANNELS", `${prefix}:*`)) as string[];
    out.set(`${node.options.host}:${node.options.port}`, list.sort());
  }
  return out;
}

const keyslot = async (node: Redis, key: string) => Number(await node.call("CLUSTER", "KEYSLOT", key));

describe("redis bus on a cluster", () => {
  let open: Bus[] = [];
  const buses = async (n: number, prefix = uniquePrefix()) => {
    const list = await redisCluster(n, { url: cluster.url, prefix, cluster: true, logger: captureLogger() });
    open.push(...list);
    return { buses: list, prefix };
  };
  afterEach(async () => {
    await Promise.all(open.map((b) => b.close()));
    open = [];
  });

  it("computes the hash slot Redis computes, hash tags and multi-byte characters included", async () => {
    const node = admin.nodes("master")[0]!;
    const keys = ["nexus:t:room:1", "nexus:t:chat:ünï✓🎉", "x:t:{user:1}:inbox", "a{}b{c}", "{", ""];
    for (let i = 0; i < 50; i++) keys.push(`nexus:t:${topicName("room")}`);
    const theirs = await Promise.all(keys.map((k) => keyslot(node, k)));
    expect(keys.map(keySlot)).toEqual(theirs);
  });

  it("spreads topics over every master, and one burst spanning them all is delivered per topic in order", async () => {
    const {
      buses: [a, b],
      prefix,
    } = await buses(2);
    const topics = Array.from({ length: 24 }, () => topicName("room"));
    const cols = topics.map(() => collector());
    await Promise.all(topics.map((t, i) => b!.subscribe(t, cols[i]!.handler)));

    // Where Redis says each channel lives: on the master owning its slot, and on all three.
    const byMaster = await shardChannels(prefix);
    const expected = new Map<string, string[]>();
    for (const t of topics) {
      const channel = `${prefix}:t:${t}`;
      const owner = admin.slots[keySlot(channel)]![0]!;
      expected.set(owner, [...(expected.get(owner) ?? []), channel].sort());
    }
    expect(byMaster).toEqual(expected);
    expect([...byMaster.values()].filter((chs) => chs.length > 0).length).toBe(3);

    // One event-loop turn: one batch, split into one pipeline per master.
    for (let i = 0; i < 20; i++) for (const t of topics) a!.publish(t, broadcast(t, i));
    await Promise.all(cols.map((c) => c.atLeast(20)));
    for (const [i, c] of cols.entries()) {
      expect(c.got.map((g) => g.msg)).toEqual([...Array(20).keys()].map((n) => broadcast(topics[i]!, n)));
    }
    expect(a!.stats().publishErrors).toBe(0);
  });

  it("holds a subscription on the owning master only while a local handler exists", async () => {
    const {
      buses: [a, b],
      prefix,
    } = await buses(2);
    const f = await fence([b!]);
    const topics = Array.from({ length: 9 }, () => topicName("room"));
    const offs = await Promise.all(topics.map((t) => b!.subscribe(t, () => {})));
    const held = async () =>
      [...(await shardChannels(prefix)).values()]
        .flat()
        .filter((ch) => !ch.includes(":t:fence:"))
        .sort();
    expect(await held()).toEqual(topics.map((t) => `${prefix}:t:${t}`).sort());
    await Promise.all(offs.map((off) => off()));
    expect(await held()).toEqual([]);
    a!.publish(topics[0]!, broadcast(topics[0]!, 1));
    await f.pass(a!);
    expect(b!.stats()).toMatchObject({ received: 1, subscribedTopics: 1 }); // the fence alone
  });

  it("names its subscriber connection on every master after prefix and node", async () => {
    const { prefix } = await buses(1);
    for (const node of admin.nodes("master")) {
      const clients = (await node.call("CLIENT", "LIST")) as string;
      expect(clients).toContain(`name=${prefix}:node-0:sub`);
    }
  });
});
