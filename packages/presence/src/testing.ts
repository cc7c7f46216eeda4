/**
 * @module
 * Test helpers: a model of the phoenix.js `Presence` client (PROTOCOL.md §6.2), canonical
 * forms for comparing views, a bus wrapper that loses messages on demand, and event-loop
 * draining for in-process clusters (no wall-clock sleeps).
 */
import type { Bus, BusHandler, BusMessage, NodeId } from "@nexus/bus";
import type { PresenceDiff, PresenceMap, RenderedMeta } from "./types.js";

/** Keys sorted, metas sorted by ref: two views are equal iff their canonical strings are. */
export function canonical(map: PresenceMap): string {
  const keys = Object.keys(map).sort();
  return JSON.stringify(
    keys.map((k) => [k, [...(map[k]?.metas ?? [])].sort((a, b) => (a.phx_ref < b.phx_ref ? -1 : 1))]),
  );
}

/** phoenix.js `syncDiff`: all joins, then all leaves; a key with no metas left is deleted. */
export function clientApply(state: PresenceMap, diff: PresenceDiff): PresenceMap {
  const next: PresenceMap = Object.create(null);
  for (const k of Object.keys(state)) next[k] = { metas: [...(state[k]?.metas ?? [])] };
  for (const [key, p] of Object.entries(diff.joins)) {
    const cur = next[key];
    const joined = new Set(p.metas.map((m) => m.phx_ref));
    const kept = cur ? cur.metas.filter((m) => !joined.has(m.phx_ref)) : [];
    next[key] = { metas: [...kept, ...p.metas] };
  }
  for (const [key, p] of Object.entries(diff.leaves)) {
    const cur = next[key];
    if (!cur) continue;
    const left = new Set(p.metas.map((m) => m.phx_ref));
    cur.metas = cur.metas.filter((m) => !left.has(m.phx_ref));
    if (cur.metas.length === 0) delete next[key];
  }
  return next;
}

/** Wire-level checks every diff must pass (PROTOCOL.md §6.4 rules 2, 6, 7). */
export function diffProblems(diff: PresenceDiff): string[] {
  const problems: string[] = [];
  if (!diff.joins || !diff.leaves) problems.push("missing joins or leaves");
  const joined = new Set<string>();
  for (const half of ["joins", "leaves"] as const) {
    for (const [key, p] of Object.entries(diff[half] ?? {})) {
      if (!Array.isArray(p.metas) || p.metas.length === 0) problems.push(`${half}.${key} has no metas`);
      for (const m of p.metas as RenderedMeta[]) {
        if (typeof m.phx_ref !== "string") problems.push(`${half}.${key} meta without phx_ref`);
        if (half === "joins") joined.add(m.phx_ref);
        else if (joined.has(m.phx_ref)) problems.push(`ref ${m.phx_ref} joins and leaves in one diff`);
      }
    }
  }
  if (Object.keys(diff.joins).length === 0 && Object.keys(diff.leaves).length === 0)
    problems.push("empty diff");
  return problems;
}

/** Lets the event loop run until `cond` holds: memory-bus deliveries are microtasks, tracker flushes setImmediate. */
export async function eventually(cond: () => boolean, what = "condition", turns = 2_000): Promise<void> {
  for (let i = 0; i < turns; i++) {
    if (cond()) return;
    await new Promise((resolve) => setImmediate(resolve));
  }
  if (!cond()) throw new Error(`not reached after ${turns} event-loop turns: ${what}`);
}

/** Runs the event loop for a number of turns (to prove something does NOT happen, after a fence). */
export async function turns(n = 20): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise((resolve) => setImmediate(resolve));
}

export type DropRule = (dir: "in" | "out", topic: string, msg: BusMessage, from: NodeId) => boolean;

export interface FlakyBus extends Bus {
  /** Messages matching the rule are lost (checked for each message, in and out). */
  drop: DropRule | undefined;
  /** Simulates the broker going away and coming back: readiness listeners fire, traffic is lost meanwhile. */
  setReady(ready: boolean): void;
}

/** Wraps a bus to lose chosen messages, like Redis pub/sub (at-most-once) can. */
export function flaky(inner: Bus): FlakyBus {
  let ready = true;
  const listeners = new Set<(r: boolean) => void>();
  const bus: FlakyBus = {
    nodeId: inner.nodeId,
    drop: undefined,
    publish(topic, msg) {
      if (!ready || bus.drop?.("out", topic, msg, inner.nodeId)) return;
      inner.publish(topic, msg);
    },
    subscribe(topic, handler: BusHandler) {
      return inner.subscribe(topic, (msg, from) => {
        if (!ready || bus.drop?.("in", topic, msg, from)) return;
        handler(msg, from);
      });
    },
    isReady: () => ready && inner.isReady(),
    onReadyChange(cb) {
      listeners.add(cb);
      return () => listeners.delete(cb);
    },
    stats: () => inner.stats(),
    close: () => inner.close(),
    setReady(next) {
      if (next === ready) return;
      ready = next;
      for (const cb of listeners) cb(next);
    },
  };
  return bus;
}
