/**
 * Per-recipient broadcasts (conversation: topics): each recipient's payload goes to that user's
 * own uWS topic only, locally and on other nodes, in seq order, and a lost one is re-read from
 * the seq source with every recipient's copy.
 */
import { createMemoryBus, createMemoryHub } from "@nexus/bus";
import { waitFor } from "@nexus/testkit";
import { describe, expect, it } from "vitest";
import { createFanout, type LocalPublisher, type SeqSource } from "./fanout.js";

const TOPIC = "conversation:00000000-0000-4000-8000-000000000001";

/** uWS stand-in: which local topics have subscribers, and the V2 frames published to each. */
function fakeLocal(subscribed: string[]): LocalPublisher & { got: Map<string, unknown[]> } {
  const got = new Map<string, unknown[]>();
  return {
    got,
    numSubscribers: (t) => (subscribed.includes(t) ? 1 : 0),
    publish(t, data) {
      got.set(t, [...(got.get(t) ?? []), JSON.parse(String(data))]);
    },
  };
}

const mine = (user: string) => `2|${TOPIC}#${user}`;

describe("fanout.broadcastEach", () => {
  it("delivers each recipient only its own payload, here and on another node, in seq order", async () => {
    const hub = createMemoryHub();
    const localA = fakeLocal([mine("u1")]);
    const localB = fakeLocal([mine("u2"), mine("u3"), `2|${TOPIC}`]);
    const source: SeqSource = { lastSeq: async () => 0, read: async () => [] };
    const a = createFanout({ local: localA, bus: createMemoryBus({ hub, nodeId: "a" }), seqSource: source });
    const b = createFanout({ local: localB, bus: createMemoryBus({ hub, nodeId: "b" }), seqSource: source });
    await Promise.all([a.acquire(TOPIC), b.acquire(TOPIC)]);
    expect(a.recipientTopic("2.0.0", TOPIC, "u1")).toBe(mine("u1"));

    const payloads = (n: number) =>
      new Map(["u1", "u2", "u3"].map((u) => [u, { content: `${n}-for-${u}`, seq: n }]));
    // Seq 2 first: nobody may see it before seq 1.
    a.broadcastEach(TOPIC, "new_msg", payloads(2), 2);
    a.broadcastEach(TOPIC, "new_msg", payloads(1), 1);

    await waitFor(() => (localB.got.get(mine("u3"))?.length ?? 0) === 2, { what: "node b's deliveries" });
    expect(localA.got.get(mine("u1"))).toEqual([
      [null, null, TOPIC, "new_msg", { content: "1-for-u1", seq: 1 }],
      [null, null, TOPIC, "new_msg", { content: "2-for-u1", seq: 2 }],
    ]);
    for (const u of ["u2", "u3"]) {
      expect(localB.got.get(mine(u))!.map((f) => (f as unknown[])[4])).toEqual([
        { content: `1-for-${u}`, seq: 1 },
        { content: `2-for-${u}`, seq: 2 },
      ]);
    }
    // Nothing went to the shared topic, nor to recipients without local sockets.
    expect(localB.got.has(`2|${TOPIC}`)).toBe(false);
    expect(localA.got.has(mine("u2"))).toBe(false);
  });

  it("fills a lost per-recipient broadcast from the seq source, each copy to its recipient", async () => {
    const hub = createMemoryHub();
    const local = fakeLocal([mine("u1"), mine("u2")]);
    const source: SeqSource = {
      lastSeq: async () => 0,
      read: async (_topic, from, to) =>
        from <= 1 && to >= 1
          ? [
              {
                seq: 1,
                event: "new_msg",
                each: true,
                payload: JSON.stringify({ u1: '{"c":"lost-u1"}', u2: '{"c":"lost-u2"}' }),
              },
            ]
          : [],
    };
    const fanout = createFanout({
      local,
      bus: createMemoryBus({ hub, nodeId: "b" }),
      seqSource: source,
      gapTimeoutMs: 10,
    });
    await fanout.acquire(TOPIC);
    // Another node's seq 2 arrives; its seq 1 never does.
    createMemoryBus({ hub, nodeId: "a" }).publish(TOPIC, {
      kind: "broadcast",
      topic: TOPIC,
      event: "new_msg",
      payload: JSON.stringify({ u1: '{"c":"2-u1"}', u2: '{"c":"2-u2"}' }),
      each: true,
      seq: 2,
    });
    await waitFor(() => local.got.get(mine("u2"))?.length === 2, { what: "the filled gap and seq 2" });
    expect(local.got.get(mine("u1"))!.map((f) => (f as unknown[])[4])).toEqual([
      { c: "lost-u1" },
      { c: "2-u1" },
    ]);
    expect(local.got.get(mine("u2"))!.map((f) => (f as unknown[])[4])).toEqual([
      { c: "lost-u2" },
      { c: "2-u2" },
    ]);
    expect(fanout.stats().gapsFilled).toBe(1);
  });
});
