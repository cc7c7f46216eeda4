import { describe, expect, it } from "vitest";
import { keySlot, SLOTS } from "./key-slot.js";
import { createBatchPublisher, type PipelineClient } from "./redis-publisher.js";

type Sent = Array<{ command: string; channel: string; wire: string }>;

/** A client that records each pipeline it is asked for; a Cluster when given a slot map. */
function fakeClient(slots?: Array<string[] | undefined>) {
  const pipelines: Sent[] = [];
  const client = {
    status: "ready",
    isCluster: slots !== undefined,
    slots,
    pipeline() {
      const sent: Sent = [];
      pipelines.push(sent);
      const record = (command: string) => (channel: string, wire: string) => {
        sent.push({ command, channel, wire });
        return pipeline;
      };
      const pipeline = {
        publish: record("publish"),
        spublish: record("spublish"),
        exec: async () => sent.map(() => [null, 1]),
      };
      return pipeline;
    },
  };
  return { client: client as unknown as PipelineClient, pipelines };
}

const nextTurn = () => new Promise((resolve) => setImmediate(resolve));
const channels = Array.from({ length: 60 }, (_, i) => `nexus:t:room:${i}:${Math.random()}`);

describe("batch publisher", () => {
  it("on one Redis: a turn's publishes leave as one pipeline, in order", async () => {
    const { client, pipelines } = fakeClient();
    const p = createBatchPublisher(client, { sharded: false, maxPending: 1_000, onError() {} });
    for (let i = 0; i < 120; i++) p.send(channels[i % 60]!, `m${i}`);
    await nextTurn();
    expect(pipelines).toHaveLength(1);
    expect(pipelines[0]!.map((s) => s.wire)).toEqual(Array.from({ length: 120 }, (_, i) => `m${i}`));
  });

  it("on a Cluster: one pipeline per slot group, never two groups in one, each channel's order kept", async () => {
    // Three masters; the second has a replica, so its slots group as "b;b-replica".
    const slots = Array.from({ length: SLOTS }, (_, s) =>
      s < 5_000 ? ["a"] : s < 11_000 ? ["b", "b-replica"] : s === 16_000 ? undefined : ["c"],
    );
    const { client, pipelines } = fakeClient(slots);
    const errors: number[] = [];
    const p = createBatchPublisher(client, {
      sharded: true,
      maxPending: 1_000,
      onError: (n) => errors.push(n),
    });
    const unmapped = [...Array(100_000).keys()].map((i) => `x:${i}`).find((k) => keySlot(k) === 16_000)!;
    const all = [...channels, unmapped];
    for (let i = 0; i < 3 * all.length; i++) p.send(all[i % all.length]!, `m${i}`);
    await nextTurn();

    const groupOf = (channel: string) => slots[keySlot(channel)]?.join(";") ?? `slot ${keySlot(channel)}`;
    const groups = pipelines.map((sent) => new Set(sent.map((s) => groupOf(s.channel))));
    for (const g of groups) expect(g.size).toBe(1);
    expect(groups.map((g) => [...g][0]).sort()).toEqual(["a", "b;b-replica", "c", "slot 16000"]);
    const sent = pipelines.flat();
    expect(sent.every((s) => s.command === "spublish")).toBe(true);
    expect(sent).toHaveLength(3 * all.length);
    for (const channel of all) {
      const order = sent.filter((s) => s.channel === channel).map((s) => Number(s.wire.slice(1)));
      expect(order).toEqual([...order].sort((x, y) => x - y));
    }
    expect(errors).toEqual([]);
  });
});
