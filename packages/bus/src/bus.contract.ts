/**
 * @module
 * The one contract every Bus implementation passes (memory in the unit project, Redis plain,
 * sharded and Cluster in the int project). Absence is proven with a fence, not a sleep: a marker
 * published after the messages under test, on another topic, from the same node. Brokers deliver
 * one publisher's messages to one subscriber in order, so once the marker is in, anything that
 * was going to arrive has. A Redis Cluster keeps that order only within one master: there each
 * test's topics share a hash tag, so they live on one master (`sameSlot`).
 */
import { randomUUID } from "node:crypto";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Bus, BusMessage, NodeId } from "./bus.js";

/** n buses acting as n nodes of one cluster, each ready; the suite closes them. */
export type MakeCluster = (n: number) => Promise<Bus[]>;

interface Got {
  msg: BusMessage;
  from: NodeId;
}

export interface Collector {
  got: Got[];
  handler: (msg: BusMessage, from: NodeId) => void;
  /** Resolves once at least n messages have arrived. */
  atLeast(n: number): Promise<void>;
}

export function collector(): Collector {
  const got: Got[] = [];
  const waiters: Array<{ n: number; resolve: () => void }> = [];
  return {
    got,
    handler(msg, from) {
      got.push({ msg, from });
      for (let i = waiters.length - 1; i >= 0; i--) {
        const w = waiters[i]!;
        if (got.length >= w.n) {
          waiters.splice(i, 1);
          w.resolve();
        }
      }
    },
    atLeast: (n) =>
      got.length >= n ? Promise.resolve() : new Promise<void>((resolve) => waiters.push({ n, resolve })),
  };
}

export const topicName = (label: string): string => `${label}:${randomUUID().slice(0, 8)}`;

export const broadcast = (topic: string, n: number | string, exceptConn?: string): BusMessage => ({
  kind: "broadcast",
  topic,
  event: "new_msg",
  payload: JSON.stringify({ n }),
  ...(exceptConn === undefined ? {} : { exceptConn }),
});

const seqOf = (g: Got) => (g.msg.kind === "broadcast" ? (JSON.parse(g.msg.payload) as { n: number }).n : -1);

/** Subscribes `receivers` to a private topic; `pass(from)` returns once every receiver got a marker sent after everything `from` published before. */
export async function fence(receivers: Bus[], name: (label: string) => string = topicName) {
  const topic = name("fence");
  const cols = receivers.map(() => collector());
  await Promise.all(receivers.map((b, i) => b.subscribe(topic, cols[i]!.handler)));
  let sent = 0;
  return {
    async pass(from: Bus) {
      sent++;
      from.publish(topic, { kind: "control", topic, action: "fence" });
      await Promise.all(cols.map((c, i) => (receivers[i] === from ? undefined : c.atLeast(sent))));
    },
  };
}

// describeBus's tests call topicName and fence; inside it, local versions honouring `sameSlot` shadow these.
const baseTopicName = topicName;
const baseFence = fence;

export interface ContractOptions {
  /** Order holds per hash slot only (a Redis Cluster): put each test's topics in one slot. */
  sameSlot?: boolean;
}

export function describeBus(
  name: string,
  makeCluster: MakeCluster,
  { sameSlot = false }: ContractOptions = {},
): void {
  describe(`Bus contract: ${name}`, () => {
    let tag = "";
    beforeEach(() => {
      tag = randomUUID().slice(0, 8);
    });
    /** A fresh topic; with `sameSlot`, in the slot of every other topic of this test. */
    const topicName = (label: string) =>
      sameSlot ? baseTopicName(`${label}:{${tag}}`) : baseTopicName(label);
    const fence = (receivers: Bus[]) => baseFence(receivers, topicName);
    let open: Bus[] = [];
    const cluster = async (n: number) => {
      const buses = await makeCluster(n);
      open.push(...buses);
      return buses;
    };
    afterEach(async () => {
      await Promise.all(open.map((b) => b.close()));
      open = [];
    });

    it("delivers a burst to every other subscribed node exactly once, in publish order, tagged with its origin", async () => {
      const [a, b, c] = await cluster(3);
      const topic = topicName("room");
      const [ca, cb, cc] = [collector(), collector(), collector()];
      await Promise.all([
        a!.subscribe(topic, ca.handler),
        b!.subscribe(topic, cb.handler),
        c!.subscribe(topic, cc.handler),
      ]);
      const f = await fence([b!, c!]);
      for (let i = 0; i < 1_000; i++) a!.publish(topic, broadcast(topic, i));
      await f.pass(a!);
      const expected = Array.from({ length: 1_000 }, (_, i) => i);
      expect(cb.got.map(seqOf)).toEqual(expected);
      expect(cc.got.map(seqOf)).toEqual(expected);
      expect(new Set([...cb.got, ...cc.got].map((g) => g.from))).toEqual(new Set([a!.nodeId]));
      expect(ca.got).toHaveLength(0);
      expect(a!.stats().published).toBeGreaterThanOrEqual(1_000);
    });

    it("keeps each origin's order when several nodes publish to one topic", async () => {
      const [a, b, c] = await cluster(3);
      const topic = topicName("room");
      const cb = collector();
      await b!.subscribe(topic, cb.handler);
      for (let i = 0; i < 200; i++) {
        a!.publish(topic, broadcast(topic, i));
        c!.publish(topic, broadcast(topic, i));
      }
      await cb.atLeast(400);
      for (const origin of [a!, c!]) {
        expect(cb.got.filter((g) => g.from === origin.nodeId).map(seqOf)).toEqual([...Array(200).keys()]);
      }
    });

    it("does not deliver to nodes that do not hold the topic", async () => {
      const [a, b, c] = await cluster(3);
      const topic = topicName("room");
      const cb = collector();
      await b!.subscribe(topic, cb.handler);
      const f = await fence([c!]);
      for (let i = 0; i < 10; i++) a!.publish(topic, broadcast(topic, i));
      await f.pass(a!);
      await cb.atLeast(10);
      expect(c!.stats()).toMatchObject({ received: 1, subscribedTopics: 1 });
    });

    it("a publish right after subscribe resolves is delivered", async () => {
      const [a, b] = await cluster(2);
      for (let i = 0; i < 20; i++) {
        const topic = topicName("fresh");
        const cb = collector();
        await b!.subscribe(topic, cb.handler);
        a!.publish(topic, broadcast(topic, i));
        await cb.atLeast(1);
        expect(seqOf(cb.got[0]!)).toBe(i);
      }
    });

    it("unsubscribe stops delivery", async () => {
      const [a, b] = await cluster(2);
      const topic = topicName("room");
      const cb = collector();
      const f = await fence([b!]);
      const off = await b!.subscribe(topic, cb.handler);
      a!.publish(topic, broadcast(topic, 1));
      await cb.atLeast(1);
      await off();
      await off(); // idempotent
      a!.publish(topic, broadcast(topic, 2));
      await f.pass(a!);
      expect(cb.got.map(seqOf)).toEqual([1]);
      expect(b!.stats().subscribedTopics).toBe(1); // the fence topic
    });

    it("two handlers on one topic both receive; removing one keeps the other", async () => {
      const [a, b] = await cluster(2);
      const topic = topicName("room");
      const [h1, h2] = [collector(), collector()];
      const f = await fence([b!]);
      const off1 = await b!.subscribe(topic, h1.handler);
      await b!.subscribe(topic, h2.handler);
      a!.publish(topic, broadcast(topic, 1));
      await f.pass(a!);
      await off1();
      a!.publish(topic, broadcast(topic, 2));
      await f.pass(a!);
      expect(h1.got.map(seqOf)).toEqual([1]);
      expect(h2.got.map(seqOf)).toEqual([1, 2]);
    });

    it("the same function subscribed twice is two subscriptions", async () => {
      const [a, b] = await cluster(2);
      const topic = topicName("room");
      const h = collector();
      const f = await fence([b!]);
      const off1 = await b!.subscribe(topic, h.handler);
      await b!.subscribe(topic, h.handler);
      a!.publish(topic, broadcast(topic, 1));
      await f.pass(a!);
      await off1();
      a!.publish(topic, broadcast(topic, 2));
      await f.pass(a!);
      expect(h.got.map(seqOf)).toEqual([1, 1, 2]);
    });

    it("subscribe, unsubscribe and subscribe again in quick succession ends subscribed", async () => {
      const [a, b] = await cluster(2);
      const f = await fence([b!]);
      const t1 = topicName("churn");
      const [h1, h2] = [collector(), collector()];
      const off1 = await b!.subscribe(t1, h1.handler);
      const leaving = off1();
      const joining = b!.subscribe(t1, h2.handler);
      await Promise.all([leaving, joining]);

      const t2 = topicName("churn");
      const [h3, h4] = [collector(), collector()];
      const p3 = b!.subscribe(t2, h3.handler);
      const p4 = b!.subscribe(t2, h4.handler);
      await (await p3)();
      await p4;

      a!.publish(t1, broadcast(t1, 1));
      a!.publish(t2, broadcast(t2, 2));
      await f.pass(a!);
      expect([h1.got.length, h2.got.length, h3.got.length, h4.got.length]).toEqual([0, 1, 0, 1]);
    });

    it("subscribe then unsubscribe in quick succession ends unsubscribed", async () => {
      const [a, b] = await cluster(2);
      const f = await fence([b!]);
      const topic = topicName("churn");
      const h = collector();
      const offs = await Promise.all([b!.subscribe(topic, h.handler), b!.subscribe(topic, h.handler)]);
      await Promise.all([...offs.map((off) => off()), b!.subscribe(topic, h.handler).then((off) => off())]);
      a!.publish(topic, broadcast(topic, 1));
      await f.pass(a!);
      expect(h.got).toHaveLength(0);
      expect(b!.stats()).toMatchObject({ subscribedTopics: 1, received: 1 });
    });

    it("carries messages intact: raw payload bytes, optional fields, control data", async () => {
      const [a, b] = await cluster(2);
      const topic = topicName("room");
      const h = collector();
      await b!.subscribe(topic, h.handler);
      const tricky = JSON.stringify({ body: 'line\n1\nnode\n{"x":1}\u2028 ✓ 🎉', n: 0 });
      const sent: BusMessage[] = [
        { kind: "broadcast", topic, event: "new_msg", payload: tricky, exceptConn: "conn-7" },
        { kind: "broadcast", topic, event: "typing", payload: "" },
        { kind: "control", topic, action: "disconnect_user", data: { userId: "u1", reason: ["a", 1, null] } },
        { kind: "control", topic, action: "membership_invalidated" },
      ];
      for (const m of sent) a!.publish(topic, m);
      await h.atLeast(sent.length);
      expect(h.got.map((g) => g.msg)).toEqual(sent);
    });

    it("a throwing handler does not stop the other handlers or later messages", async () => {
      const [a, b] = await cluster(2);
      const topic = topicName("room");
      const h = collector();
      await b!.subscribe(topic, () => {
        throw new Error("handler bug");
      });
      await b!.subscribe(topic, h.handler);
      a!.publish(topic, broadcast(topic, 1));
      a!.publish(topic, broadcast(topic, 2));
      await h.atLeast(2);
      expect(b!.stats().handlerErrors).toBe(2);
    });

    it("a graceful close still sends what was published before it", async () => {
      const [a, b] = await cluster(2);
      const topic = topicName("room");
      const h = collector();
      await b!.subscribe(topic, h.handler);
      for (let i = 0; i < 10; i++) a!.publish(topic, broadcast(topic, i));
      await a!.close();
      await h.atLeast(10);
      expect(h.got.map(seqOf)).toEqual([...Array(10).keys()]);
    });

    it("is ready while open; after close publish is a silent no-op and subscribe rejects", async () => {
      const [a] = await cluster(1);
      expect(a!.isReady()).toBe(true);
      const changes: boolean[] = [];
      a!.onReadyChange((r) => changes.push(r));
      await a!.subscribe(topicName("room"), () => {});
      await a!.close();
      await a!.close();
      expect(a!.isReady()).toBe(false);
      expect(changes).toEqual([false]);
      expect(() => a!.publish("room:x", broadcast("room:x", 1))).not.toThrow();
      await expect(a!.subscribe("room:x", () => {})).rejects.toThrow(/closed/);
      expect(a!.stats().subscribedTopics).toBe(0);
    });
  });
}
