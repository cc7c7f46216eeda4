/**
 * Scale (issue: "presence work per join does not grow with the number of members; presence_state
 * for a 10,000-member topic is served from memory"), shown by structure, not by timings: 10,000
 * members tracked in one burst travel as a handful of batched deltas, the other node's view is
 * complete, list() answers from the tracker's own state, and one more join is one more delta.
 */
import { createMemoryBus, createMemoryHub } from "@nexus/bus";
import { waitFor } from "@nexus/testkit";
import { afterAll, describe, expect, it } from "vitest";
import { createTracker, type Tracker } from "./tracker.js";

const MEMBERS = 10_000;
const T = "chat:big";
const trackers: Tracker[] = [];

afterAll(async () => {
  for (const t of trackers) await t.close({ graceful: true });
});

describe("a 10,000-member topic", () => {
  it("replicates a burst of joins in batches and lists every member on every node from memory", async () => {
    const hub = createMemoryHub();
    let diffsOnA = 0;
    const a = createTracker({ bus: createMemoryBus({ hub, nodeId: "a" }), onDiff: () => diffsOnA++ });
    const b = createTracker({ bus: createMemoryBus({ hub, nodeId: "b" }), onDiff: () => {} });
    trackers.push(a, b);
    await Promise.all([a.ready(), b.ready()]);
    await Promise.all([a.watch(T), b.watch(T)]);

    for (let i = 0; i < MEMBERS; i++) {
      const r = a.track(T, `user-${i}`, `conn-${i}`, { online_at: "2026-01-01T00:00:00.000000Z" });
      if (!r.ok) throw new Error(`track ${i} failed`);
    }
    // One local diff per operation (PROTOCOL.md §6.3) ...
    expect(diffsOnA).toBe(MEMBERS);
    await waitFor(() => Object.keys(b.list(T)).length === MEMBERS, { what: "every member on b" });
    // ... but the bus carried batches: the burst cost the other node a few messages, not one per member.
    expect(a.stats().deltasPublished).toBeGreaterThan(0);
    expect(a.stats().deltasPublished).toBeLessThan(10);

    const state = b.list(T);
    expect(state["user-0"]!.metas).toHaveLength(1);
    expect(state[`user-${MEMBERS - 1}`]!.metas[0]!.online_at).toBe("2026-01-01T00:00:00.000000Z");
    // Served from memory: asking again returns the cached map, with no bus traffic.
    const received = b.stats().deltasReceived;
    expect(b.list(T)).toBe(state);
    expect(b.stats().deltasReceived).toBe(received);

    // One more join is one more delta, however large the topic.
    const published = a.stats().deltasPublished;
    a.track(T, "late", "conn-late", {});
    await waitFor(() => b.list(T).late !== undefined, { what: "the late join on b" });
    expect(a.stats().deltasPublished - published).toBe(1);
  });
});
