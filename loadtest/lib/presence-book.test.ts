import { v2JsonSerializer } from "@nexus/protocol";
import { describe, expect, it } from "vitest";
import { classify, FrameKind } from "./bench-frames.js";
import {
  applyDiff,
  ConvergenceBook,
  checkView,
  dueOps,
  emptyStats,
  keyNeedle,
  mergeStats,
  OpKind,
  ownJoinRef,
  statsToData,
  viewFromState,
} from "./presence-book.js";

const topic = "chat:7d1f8f4c-2a5e-4a57-9a0c-2f1b1f5f0b11";
const U = "00000000-0000-4000-8000-00000000000a";
const V = "00000000-0000-4000-8000-00000000000b";
const meta = (ref: string) => ({ online_at: "2026-01-01T00:00:00.000000Z", phx_ref: ref });
const frame = (payload: object) =>
  Buffer.from(v2JsonSerializer.encodeBroadcast(topic, "presence_diff", payload).data as string);

describe("ConvergenceBook", () => {
  it("a join converges when the last node saw it, measured from the ack", () => {
    const b = new ConvergenceBook(2);
    const op = b.joined(1, 0, 1_000, 2_000);
    b.sighted(OpKind.Join, "r1", 0, 2_100); // local observer, before the churner knew its ref
    b.bind(op, "r1");
    expect(b.open).toBe(1);
    b.sighted(OpKind.Join, "r1", 1, 7_000);
    expect(b.open).toBe(0);
    const s = b.step(1);
    expect(s.converged).toBe(1);
    expect(s.hist.max).toBe(5_000);
    expect(s.fromSend.max).toBe(6_000);
    expect(s.local.max).toBe(100);
    expect(s.remote.max).toBe(5_000);
  });

  it("a leave seen before its reply was processed still counts, and sighting before ack clamps to 0", () => {
    const b = new ConvergenceBook(2);
    b.bind(b.joined(1, 1, 0, 10), "r1");
    b.sighted(OpKind.Join, "r1", 0, 20);
    b.sighted(OpKind.Join, "r1", 1, 15);
    b.sighted(OpKind.Leave, "r1", 1, 90);
    b.sighted(OpKind.Leave, "r1", 0, 95);
    b.left(2, 1, "r1", 50, 100);
    expect(b.open).toBe(0);
    expect(b.step(2).converged).toBe(1);
    expect(b.step(2).hist.percentile(50)).toBeLessThanOrEqual(1);
    expect(b.records).toBe(0); // fully resolved refs are dropped
  });

  it("ops not seen everywhere within the timeout are missing, by node relation", () => {
    const b = new ConvergenceBook(2);
    b.bind(b.joined(3, 0, 0, 1_000), "a");
    b.sighted(OpKind.Join, "a", 0, 1_500);
    b.joined(3, 1, 0, 1_000); // its own diff never came: ref unknown
    b.sweep(2_000, 5_000);
    expect(b.open).toBe(2);
    b.sweep(7_000, 5_000);
    expect(b.open).toBe(0);
    const s = b.step(3);
    expect(s.missing).toBe(2);
    expect(s.missingRemote).toBe(1);
    expect(s.missingLocal).toBe(0);
    expect(s.refUnknown).toBe(1);
    expect(s.converged).toBe(0);
  });

  it("counts duplicates and leaves seen before their join", () => {
    const b = new ConvergenceBook(1);
    b.sighted(OpKind.Leave, "x", 0, 5);
    b.sighted(OpKind.Join, "y", 0, 5);
    b.sighted(OpKind.Join, "y", 0, 6);
    expect(b.orderViolations).toBe(1);
    expect(b.duplicates).toBe(1);
  });

  it("step stats survive the trip to the runner and merge", () => {
    const b = new ConvergenceBook(1);
    b.bind(b.joined(1, 0, 0, 10), "r");
    b.sighted(OpKind.Join, "r", 0, 110);
    const into = emptyStats();
    mergeStats(into, JSON.parse(JSON.stringify(statsToData(b.step(1)))));
    mergeStats(into, statsToData(b.step(1)));
    expect(into.converged).toBe(2);
    expect(into.hist.count).toBe(2);
    expect(into.lastConvergedUs).toBe(110);
  });
});

describe("observer views", () => {
  it("apply state, then joins before leaves, dropping a key with its last ref", () => {
    const view = viewFromState({ [U]: { metas: [meta("a")] } });
    const seen: string[] = [];
    applyDiff(
      view,
      {
        joins: { [U]: { metas: [meta("b")] }, [V]: { metas: [meta("c")] } },
        leaves: { [U]: { metas: [meta("a")] } },
      },
      (kind, key, ref) => seen.push(`${kind === OpKind.Join ? "+" : "-"}${key.slice(-1)}${ref}`),
    );
    expect(seen).toEqual(["+ab", "+bc", "-aa"]);
    expect([...view.get(U)!]).toEqual(["b"]);
    applyDiff(view, { joins: {}, leaves: { [V]: { metas: [meta("c")] } } });
    expect(view.has(V)).toBe(false);
  });

  it("checkView reports missing, extra and wrong refs; null accepts any single ref", () => {
    const view = viewFromState({
      [U]: { metas: [meta("a")] },
      [V]: { metas: [meta("x"), meta("y")] },
      extra: { metas: [meta("e")] },
      obs: { metas: [meta("o")] },
    });
    const truth = new Map<string, string | null>([
      [U, "a"],
      [V, "y"],
      ["gone", "g"],
      ["obs", null],
    ]);
    const r = checkView(view, truth);
    expect(r).toMatchObject({ missingKeys: 1, extraKeys: 1, wrongRefs: 1 });
    const only = checkView(view, truth, new Set([U, "obs"]));
    expect(only).toMatchObject({ missingKeys: 0, extraKeys: 0, wrongRefs: 0 });
  });
});

describe("a churner's own ref", () => {
  it("is read from a presence_diff the gateway's serializer encodes, skipping the previous ref", () => {
    const f = frame({ joins: { [U]: { metas: [meta("old"), meta("new")] } }, leaves: {} });
    expect(classify(f)).toBe(FrameKind.Broadcast);
    expect(ownJoinRef(f, keyNeedle(U), undefined)).toBe("new");
    const only = frame({
      joins: { [U]: { metas: [meta("new")] } },
      leaves: { [U]: { metas: [meta("old")] } },
    });
    expect(ownJoinRef(only, keyNeedle(U), "old")).toBe("new");
  });

  it("is not taken from leaves, other keys or other events", () => {
    const needle = keyNeedle(U);
    expect(ownJoinRef(frame({ joins: {}, leaves: { [U]: { metas: [meta("a")] } } }), needle, undefined)).toBe(
      undefined,
    );
    expect(ownJoinRef(frame({ joins: { [V]: { metas: [meta("a")] } }, leaves: {} }), needle, undefined)).toBe(
      undefined,
    );
    const msg = Buffer.from(
      v2JsonSerializer.encodeBroadcast(topic, "new_msg", { sender_id: U, content: { text: "hi" } })
        .data as string,
    );
    expect(ownJoinRef(msg, needle, undefined)).toBe(undefined);
  });
});

describe("open-loop pacing", () => {
  it("is due by the clock and capped at the total", () => {
    expect(dueOps(0, 100, 1000, 1_000_000, 1000)).toBe(0);
    expect(dueOps(100 + 500_000, 100, 1000, 1_000_000, 1000)).toBe(500);
    expect(dueOps(100 + 2_000_000, 100, 1000, 1_000_000, 1000)).toBe(1000);
  });
});
