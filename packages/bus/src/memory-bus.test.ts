/** @module The contract on the in-process bus, plus what only the memory bus promises. */
import { describe, expect, it } from "vitest";
import { broadcast, collector, describeBus, topicName } from "./bus.contract.js";
import { whenReady } from "./bus.js";
import { createMemoryBus, createMemoryHub } from "./memory-bus.js";

describeBus("memory", async (n) => {
  const hub = createMemoryHub();
  return Array.from({ length: n }, (_, i) => createMemoryBus({ hub, nodeId: `node-${i}` }));
});

describe("memory bus", () => {
  it("delivers asynchronously, never during publish", async () => {
    const hub = createMemoryHub();
    const [a, b] = [createMemoryBus({ hub, nodeId: "a" }), createMemoryBus({ hub, nodeId: "b" })];
    const topic = topicName("room");
    const h = collector();
    await b.subscribe(topic, h.handler);
    a.publish(topic, broadcast(topic, 1));
    expect(h.got).toHaveLength(0);
    await h.atLeast(1);
  });

  it("a single node (the standalone server) publishes to nobody without encoding", () => {
    const bus = createMemoryBus({ nodeId: "solo" });
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    bus.publish("room:1", { kind: "control", topic: "room:1", action: "x", data: cyclic });
    expect(bus.stats()).toMatchObject({ published: 1, publishErrors: 0 });
  });

  it("counts a message that could not cross a real wire instead of throwing", async () => {
    const hub = createMemoryHub();
    const [a, b] = [createMemoryBus({ hub, nodeId: "a" }), createMemoryBus({ hub, nodeId: "b" })];
    await b.subscribe("room:1", () => {});
    const msg = { kind: "control", topic: "room:1", action: "x", data: { big: 1n } } as const;
    expect(() => a.publish("room:1", msg)).not.toThrow();
    expect(a.stats()).toMatchObject({ published: 0, publishErrors: 1 });
  });

  it("receivers get their own copy", async () => {
    const hub = createMemoryHub();
    const [a, b, c] = ["a", "b", "c"].map((nodeId) => createMemoryBus({ hub, nodeId }));
    const [hb, hc] = [collector(), collector()];
    await b!.subscribe("room:1", hb.handler);
    await c!.subscribe("room:1", hc.handler);
    const data = { list: [1] };
    a!.publish("room:1", { kind: "control", topic: "room:1", action: "x", data });
    await Promise.all([hb.atLeast(1), hc.atLeast(1)]);
    expect(hb.got[0]!.msg).not.toBe(hc.got[0]!.msg);
    expect(hb.got[0]!.msg).toEqual({ kind: "control", topic: "room:1", action: "x", data });
  });

  it("two buses with one node id drop each other's messages as their own echo", async () => {
    const hub = createMemoryHub();
    const [a, twin] = [createMemoryBus({ hub, nodeId: "same" }), createMemoryBus({ hub, nodeId: "same" })];
    const h = collector();
    await twin.subscribe("room:1", h.handler);
    a.publish("room:1", broadcast("room:1", 1));
    await new Promise((resolve) => setImmediate(resolve)); // every queued microtask has run
    expect(h.got).toHaveLength(0);
    expect(twin.stats().droppedOwnEcho).toBe(1);
  });

  it("the hub subscription follows local handlers", async () => {
    const hub = createMemoryHub();
    const bus = createMemoryBus({ hub, nodeId: "a" });
    const off1 = await bus.subscribe("room:1", () => {});
    const off2 = await bus.subscribe("room:1", () => {});
    expect(hub.subscribers("room:1")).toBe(1);
    await off1();
    expect(hub.subscribers("room:1")).toBe(1);
    await off2();
    expect(hub.subscribers("room:1")).toBe(0);
    await bus.subscribe("room:2", () => {});
    await bus.close();
    expect(hub.subscribers("room:2")).toBe(0);
  });

  it("rejects node ids that cannot go on the wire", () => {
    for (const nodeId of ["", "has space", "new\nline", "x".repeat(129)]) {
      expect(() => createMemoryBus({ nodeId })).toThrow(/nodeId/);
    }
  });

  it("whenReady resolves for a ready bus and rejects after its timeout for a closed one", async () => {
    const bus = createMemoryBus({ nodeId: "a" });
    await whenReady(bus);
    await bus.close();
    await expect(whenReady(bus, 10)).rejects.toThrow(/not ready after 10 ms/);
  });
});
