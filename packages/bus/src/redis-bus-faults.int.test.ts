/**
 * @module
 * Redis going away under a live bus, on a dedicated redis-server this file may kill, restart and
 * pause: the bus reports not-ready, drops (never queues, never throws) while down, resubscribes
 * everything by itself, and never takes the process down.
 */
import { pingRedis, type RedisServer, startRedis, waitFor } from "@nexus/testkit";
import { Redis } from "ioredis";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { broadcast, collector, fence, topicName } from "./bus.contract.js";
import type { Bus } from "./bus.js";
import { type RedisBusOptions, reconnectDelay } from "./redis-bus.js";
import { captureLogger, expectRecoveryFrom, redisCluster, uniquePrefix } from "./redis-test-helpers.js";

let redis: RedisServer;
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await redis.stop();
});

it("reconnects within about a second however long Redis was away", () => {
  for (const attempt of [1, 2, 5, 10, 1_000]) expect(reconnectDelay(attempt)).toBeLessThanOrEqual(1_000);
  expect(reconnectDelay(1)).toBeLessThan(150);
});

for (const sharded of [false, true]) {
  describe(`redis bus under faults (${sharded ? "sharded" : "plain"})`, () => {
    let open: Bus[] = [];
    const cluster = async (
      n: number,
      extra: Pick<RedisBusOptions, "healthCheckMs" | "maxPendingPublishes"> = {},
    ) => {
      const logger = captureLogger();
      const buses = await redisCluster(n, {
        url: redis.url,
        prefix: uniquePrefix(),
        sharded,
        logger,
        ...extra,
      });
      open.push(...buses);
      return { buses, logger };
    };
    const readyAgain = (buses: Bus[]) =>
      waitFor(() => buses.every((b) => b.isReady()), { what: "buses ready", timeoutMs: 10_000 });
    afterEach(async () => {
      await Promise.all(open.map((b) => b.close()));
      open = [];
      // A test that failed mid-outage must not break the next (start() on a live port would spawn a doomed twin).
      if (!(await pingRedis(redis.port))) await redis.start();
    });

    it("after a restart: not ready, then ready, and every held topic is live again without a new subscribe", async () => {
      const {
        buses: [a, b],
        logger,
      } = await cluster(2);
      const topics = [topicName("room"), topicName("room"), topicName("user")];
      await expectRecoveryFrom(() => redis.restart(), { a: a!, b: b!, topics, logger });
    });

    it("publishing while Redis is down neither throws nor queues; delivery resumes after", async () => {
      const {
        buses: [a, b],
      } = await cluster(2);
      const topic = topicName("room");
      const h = collector();
      await b!.subscribe(topic, h.handler);
      await redis.kill();
      // Not ready as soon as either connection notices; publishes are refused only once the
      // publishing connection itself has (until then they are written and lost, at most once).
      const probe = topicName("probe");
      await waitFor(
        () => {
          const errors = a!.stats().publishErrors;
          a!.publish(probe, broadcast(probe, 0));
          return a!.stats().publishErrors > errors;
        },
        { what: "the publishing connection to notice" },
      );
      const before = a!.stats();
      for (let i = 0; i < 10_000; i++) a!.publish(topic, broadcast(topic, i));
      expect(a!.stats().publishErrors - before.publishErrors).toBe(10_000);
      expect(a!.stats().published).toBe(before.published);

      await redis.start();
      await readyAgain([a!, b!]);
      a!.publish(topic, broadcast(topic, -1));
      await h.atLeast(1);
      expect(h.got.map((g) => g.msg)).toEqual([broadcast(topic, -1)]);
    });

    it("subscribe while down resolves once Redis is back; unsubscribe while down is not undone by the reconnect", async () => {
      const {
        buses: [a, b],
      } = await cluster(2);
      const [kept, dropped, later] = [topicName("kept"), topicName("dropped"), topicName("later")];
      const [hk, hd, hl] = [collector(), collector(), collector()];
      await b!.subscribe(kept, hk.handler);
      const offDropped = await b!.subscribe(dropped, hd.handler);
      await redis.kill();
      await waitFor(() => !b!.isReady(), { what: "subscriber to notice" });

      const pending = b!.subscribe(later, hl.handler);
      await offDropped();
      let resolved = false;
      void pending.then(() => (resolved = true));
      await redis.start();
      await pending;
      expect(resolved).toBe(true);
      await readyAgain([a!, b!]);

      const f = await fence([b!]);
      for (const t of [kept, dropped, later]) a!.publish(t, broadcast(t, 1));
      await f.pass(a!);
      expect([hk.got.length, hd.got.length, hl.got.length]).toEqual([1, 0, 1]);
    });

    it("close while Redis is down returns promptly", async () => {
      const {
        buses: [a],
      } = await cluster(1);
      await a!.subscribe(topicName("room"), () => {});
      await redis.kill();
      await waitFor(() => !a!.isReady(), { what: "bus to notice" });
      await a!.close();
      expect(a!.isReady()).toBe(false);
    });

    it("caps publishes awaiting a slow Redis, dropping and counting the excess", async () => {
      const {
        buses: [a, b],
      } = await cluster(2, { maxPendingPublishes: 100 });
      const topic = topicName("room");
      const h = collector();
      await b!.subscribe(topic, h.handler);
      const admin = new Redis(redis.url);
      try {
        await admin.call("CLIENT", "PAUSE", "1000", "WRITE"); // holds PUBLISH, not PING
        for (let i = 0; i < 100; i++) a!.publish(topic, broadcast(topic, i));
        await new Promise((resolve) => setImmediate(resolve)); // written, now awaiting replies
        for (let i = 100; i < 150; i++) a!.publish(topic, broadcast(topic, i));
        expect(a!.stats()).toMatchObject({ publishErrors: 50 });
        await h.atLeast(100);
        expect(h.got.map((g) => g.msg)).toEqual([...Array(100).keys()].map((i) => broadcast(topic, i)));
      } finally {
        admin.disconnect();
      }
    });

    it("a Redis that stops answering is detected by the health check and recovered from", async () => {
      const {
        buses: [a, b],
      } = await cluster(2, { healthCheckMs: 200 });
      const topic = topicName("room");
      const h = collector();
      await b!.subscribe(topic, h.handler);
      const admin = new Redis(redis.url);
      try {
        await admin.call("CLIENT", "PAUSE", "1500", "ALL");
        await waitFor(() => !b!.isReady(), { what: "the silent connection to be dropped", timeoutMs: 1_400 });
      } finally {
        admin.disconnect();
      }
      await readyAgain([a!, b!]);
      a!.publish(topic, broadcast(topic, 1));
      await h.atLeast(1);
    });
  });
}
