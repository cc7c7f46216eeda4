/**
 * @module
 * Masters of a Redis Cluster going away under live buses, on a 3-master cluster this file kills,
 * restarts and pauses: the bus reports not-ready, drops (never queues, never throws) while a
 * master is down, resubscribes every held topic on its master by itself, and delivers again,
 * all without being recreated.
 */
import { randomUUID } from "node:crypto";
import {
  pingRedis,
  type RedisCluster,
  type RedisClusterNode,
  redisCommand,
  startRedisCluster,
  waitFor,
} from "@nexus/testkit";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { broadcast, collector, fence, topicName } from "./bus.contract.js";
import type { Bus } from "./bus.js";
import { keySlot } from "./key-slot.js";
import type { RedisBusOptions } from "./redis-bus.js";
import { captureLogger, expectRecoveryFrom, redisCluster, uniquePrefix } from "./redis-test-helpers.js";

let cluster: RedisCluster;
beforeAll(async () => {
  cluster = await startRedisCluster();
});
afterAll(async () => {
  await cluster?.stop();
});

/** The master serving `topic`'s channel under `prefix`. */
const ownerOf = (prefix: string, topic: string): RedisClusterNode => {
  const slot = keySlot(`${prefix}:t:${topic}`);
  return cluster.nodes.find((n) => slot >= n.slots[0] && slot <= n.slots[1])!;
};

/** One fresh topic per master, in the order of `cluster.nodes`. */
/** Topic names sharing one hash tag: one slot, so one master, where publish order holds. */
function oneSlotNames(): (label: string) => string {
  const tag = randomUUID().slice(0, 8);
  return (label) => topicName(`${label}:{${tag}}`);
}

function topicPerMaster(prefix: string): string[] {
  const found = new Map<RedisClusterNode, string>();
  while (found.size < cluster.nodes.length) {
    const t = topicName("room");
    const owner = ownerOf(prefix, t);
    if (!found.has(owner)) found.set(owner, t);
  }
  return cluster.nodes.map((n) => found.get(n)!);
}

describe("redis bus on a cluster under faults", () => {
  let open: Bus[] = [];
  const buses = async (n: number, extra: Pick<RedisBusOptions, "healthCheckMs"> = {}) => {
    const logger = captureLogger();
    const prefix = uniquePrefix();
    const list = await redisCluster(n, { url: cluster.url, prefix, cluster: true, logger, ...extra });
    open.push(...list);
    return { buses: list, prefix, logger };
  };
  const readyAgain = (list: Bus[]) =>
    waitFor(() => list.every((b) => b.isReady()), { what: "buses ready", timeoutMs: 20_000 });
  afterEach(async () => {
    await Promise.all(open.map((b) => b.close()));
    open = [];
    // A test that failed mid-outage must not break the next one.
    for (const n of cluster.nodes) if (!(await pingRedis(n.port))) await n.start();
    await cluster.healthy();
  });

  it("after a master restarts: not ready, then ready, and topics on every master deliver again without a new subscribe", async () => {
    const {
      buses: [a, b],
      prefix,
      logger,
    } = await buses(2);
    const topics = topicPerMaster(prefix);
    await expectRecoveryFrom(
      async () => {
        const victim = ownerOf(prefix, topics[0]!);
        await victim.kill();
        await waitFor(() => !a!.isReady() && !b!.isReady(), { what: "both buses to notice" });
        await victim.start();
      },
      { a: a!, b: b!, topics, logger },
    );
    // Resubscribed where each channel lives: the restarted master included.
    for (const t of topics) {
      const reply = await redisCommand(
        ownerOf(prefix, t).port,
        "PUBSUB",
        "SHARDCHANNELS",
        `${prefix}:t:${t}`,
      );
      expect(reply).toBe("1"); // redisCommand gives an array reply's length
    }
  });

  it("publishing while a master is down neither throws nor queues; delivery resumes after", async () => {
    const {
      buses: [a, b],
      prefix,
    } = await buses(2);
    // One hash tag: the topic and the fence live on one master, where order holds.
    const name = oneSlotNames();
    const topic = name("room");
    const h = collector();
    await b!.subscribe(topic, h.handler);
    const f = await fence([b!], name);
    await ownerOf(prefix, topic).kill();
    // Refused at once from when the publisher's connection to that master noticed; until then
    // written into a dead socket and lost. Never kept for later: the master is gone, so one of
    // these arriving after the restart can only have waited in a queue.
    await waitFor(
      () => {
        const errors = a!.stats().publishErrors;
        a!.publish(topic, broadcast(topic, 0));
        return a!.stats().publishErrors > errors;
      },
      { what: "the publisher to notice" },
    );
    const stats = a!.stats();
    expect(() => {
      for (let i = 0; i < 10_000; i++) a!.publish(topic, broadcast(topic, i));
    }).not.toThrow();
    expect(a!.stats().publishErrors - stats.publishErrors).toBe(10_000);
    expect(a!.stats().published).toBe(stats.published);

    await ownerOf(prefix, topic).start();
    await readyAgain([a!, b!]);
    a!.publish(topic, broadcast(topic, -1));
    await f.pass(a!);
    expect(h.got.map((g) => g.msg)).toEqual([broadcast(topic, -1)]);
  });

  it("while another master is down: subscribe resolves once it is back, and an unsubscribe is not undone on the master that stayed up", async () => {
    const {
      buses: [a, b],
      prefix,
    } = await buses(2);
    // All on one master (one hash tag), and another master goes down.
    const name = oneSlotNames();
    const [kept, dropped, later] = [name("kept"), name("dropped"), name("later")];
    const [hk, hd, hl] = [collector(), collector(), collector()];
    await b!.subscribe(kept, hk.handler);
    const offDropped = await b!.subscribe(dropped, hd.handler);
    const home = ownerOf(prefix, kept);
    const victim = cluster.nodes.find((n) => n !== home)!;
    await victim.kill();
    await waitFor(() => !b!.isReady(), { what: "subscriber to notice" });

    const pending = b!.subscribe(later, hl.handler);
    await offDropped();
    await victim.start();
    await pending;
    await readyAgain([a!, b!]);

    const f = await fence([b!], name);
    for (const t of [kept, dropped, later]) a!.publish(t, broadcast(t, 1));
    await f.pass(a!);
    expect([hk.got.length, hd.got.length, hl.got.length]).toEqual([1, 0, 1]);
    const held = await redisCommand(home.port, "PUBSUB", "SHARDCHANNELS", `${prefix}:t:*`);
    expect(held).toBe("3"); // kept, later and the fence: an array reply's length
  });

  it("after every master restarts at once: ready again and delivering on every master", async () => {
    const {
      buses: [a, b],
      prefix,
    } = await buses(2);
    const topics = topicPerMaster(prefix);
    const cols = topics.map(() => collector());
    await Promise.all(topics.map((t, i) => b!.subscribe(t, cols[i]!.handler)));
    await Promise.all(cluster.nodes.map((n) => n.kill()));
    await waitFor(() => !a!.isReady() && !b!.isReady(), { what: "both buses to notice" });
    await Promise.all(cluster.nodes.map((n) => n.start()));
    await readyAgain([a!, b!]);
    for (const [i, t] of topics.entries()) a!.publish(t, broadcast(t, i));
    await Promise.all(cols.map((c) => c.atLeast(1)));
    expect(cols.map((c) => c.got.map((g) => g.msg))).toEqual(topics.map((t, i) => [broadcast(t, i)]));
  });

  it("a master that stops answering is detected by the health check and recovered from", async () => {
    const {
      buses: [a, b],
      prefix,
    } = await buses(2, { healthCheckMs: 200 });
    const topics = topicPerMaster(prefix);
    const cols = topics.map(() => collector());
    await Promise.all(topics.map((t, i) => b!.subscribe(t, cols[i]!.handler)));
    await redisCommand(cluster.nodes[1]!.port, "CLIENT", "PAUSE", "1500", "ALL");
    await waitFor(() => !b!.isReady(), { what: "the silent master to be noticed", timeoutMs: 1_400 });
    await readyAgain([a!, b!]);
    for (const [i, t] of topics.entries()) a!.publish(t, broadcast(t, i));
    await Promise.all(cols.map((c) => c.atLeast(1)));
  });

  it("close while a master is down returns promptly", async () => {
    const {
      buses: [a],
      prefix,
    } = await buses(1);
    const [topic] = topicPerMaster(prefix);
    await a!.subscribe(topic!, () => {});
    await ownerOf(prefix, topic!).kill();
    await waitFor(() => !a!.isReady(), { what: "bus to notice" });
    await a!.close();
    expect(a!.isReady()).toBe(false);
  });
});
