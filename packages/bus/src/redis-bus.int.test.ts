/**
 * @module
 * The Bus contract on Redis, plain and sharded, against the run's shared Redis (each test on its
 * own channel prefix), plus what only the Redis bus promises: broker subscriptions follow local
 * handlers exactly, own echoes are dropped, garbage on a channel is counted and ignored.
 */
import { waitFor } from "@nexus/testkit";
import { Redis } from "ioredis";
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from "vitest";
import { broadcast, collector, describeBus, fence, topicName } from "./bus.contract.js";
import type { Bus } from "./bus.js";
import { captureLogger, redisCluster, uniquePrefix } from "./redis-test-helpers.js";

const url = inject("redisUrl");

for (const sharded of [false, true]) {
  const mode = sharded ? "sharded" : "plain";
  describeBus(`redis (${mode})`, (n) => redisCluster(n, { url, prefix: uniquePrefix(), sharded }));

  describe(`redis bus (${mode})`, () => {
    let raw: Redis;
    let open: Bus[] = [];
    const cluster = async (n: number, prefix = uniquePrefix(), logger = captureLogger()) => {
      const buses = await redisCluster(n, { url, prefix, sharded, logger });
      open.push(...buses);
      return { buses, prefix, logger };
    };
    const channels = async (prefix: string) => {
      const list = (await raw.call(
        "PUBSUB",
        sharded ? "SHARDCHANNELS" : "CHANNELS",
        `${prefix}:*`,
      )) as string[];
      return list.sort();
    };
    const numsub = async (channel: string) => {
      const reply = (await raw.call("PUBSUB", sharded ? "SHARDNUMSUB" : "NUMSUB", channel)) as [
        string,
        number,
      ];
      return Number(reply[1]);
    };

    beforeAll(() => {
      raw = new Redis(url);
    });
    afterAll(async () => {
      await raw.quit();
    });
    afterEach(async () => {
      await Promise.all(open.map((b) => b.close()));
      open = [];
    });

    it("holds one broker subscription per topic per node, only while a local handler exists", async () => {
      const {
        buses: [a, b, c],
        prefix,
      } = await cluster(3);
      expect(await channels(prefix)).toEqual([]);
      const offB1 = await b!.subscribe("room:1", () => {});
      const offB2 = await b!.subscribe("room:1", () => {});
      const offC = await c!.subscribe("room:1", () => {});
      await c!.subscribe("room:2", () => {});
      expect(await channels(prefix)).toEqual([`${prefix}:t:room:1`, `${prefix}:t:room:2`]);
      expect(await numsub(`${prefix}:t:room:1`)).toBe(2);
      await offB1();
      expect(await numsub(`${prefix}:t:room:1`)).toBe(2);
      await Promise.all([offB2(), offC()]);
      expect(await channels(prefix)).toEqual([`${prefix}:t:room:2`]);
      expect(a!.stats().subscribedTopics).toBe(0);
    });

    it("drops its own echo, which Redis does send back to a subscribed publisher", async () => {
      const {
        buses: [a, b],
      } = await cluster(2);
      const topic = topicName("room");
      const [ha, hb] = [collector(), collector()];
      await a!.subscribe(topic, ha.handler);
      await b!.subscribe(topic, hb.handler);
      for (let i = 0; i < 5; i++) a!.publish(topic, broadcast(topic, i));
      await hb.atLeast(5);
      await waitFor(() => a!.stats().droppedOwnEcho === 5, { what: "5 echoes dropped" });
      expect(ha.got).toHaveLength(0);
      expect(a!.stats().received).toBe(0);
    });

    it("counts and skips malformed envelopes injected on a channel", async () => {
      const {
        buses: [a, b],
        prefix,
        logger,
      } = await cluster(2);
      const topic = topicName("room");
      const h = collector();
      const f = await fence([b!]);
      await b!.subscribe(topic, h.handler);
      const channel = `${prefix}:t:${topic}`;
      const garbage = ["", "hello", "1\nx\nnot json", '1\nx\n{"kind":"broadcast","topic":1}', "\u0000\u00ff"];
      for (const g of garbage) await raw.call(sharded ? "SPUBLISH" : "PUBLISH", channel, g);
      a!.publish(topic, broadcast(topic, 42));
      await f.pass(a!);
      expect(h.got.map((g) => g.msg)).toEqual([broadcast(topic, 42)]);
      expect(b!.stats()).toMatchObject({ decodeErrors: garbage.length, received: 2 });
      expect(logger.lines.filter((l) => l.msg.includes("undecodable"))).toHaveLength(1); // throttled
    });

    it("names its connections after prefix and node", async () => {
      const { prefix } = await cluster(1);
      const clients = (await raw.call("CLIENT", "LIST")) as string;
      expect(clients).toContain(`name=${prefix}:node-0:pub`);
      expect(clients).toContain(`name=${prefix}:node-0:sub`);
    });
  });
}
