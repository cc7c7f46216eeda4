/**
 * @module
 * In-process clusters of trackers for tests: memory buses on one hub (wrapped to lose messages
 * on demand), one manual clock, and per node a model phoenix.js client fed every diff, which
 * must always equal `list()`.
 */
import { createMemoryBus, createMemoryHub } from "@nexus/bus";
import { afterEach, expect } from "vitest";
import { createManualClock } from "./clock.js";
import { canonical, clientApply, diffProblems, type FlakyBus, flaky, turns } from "./testing.js";
import { createTracker, type Tracker, type TrackerOptions } from "./tracker.js";
import type { PresenceDiff, PresenceMap } from "./types.js";

export interface TestNode {
  name: string;
  bus: FlakyBus;
  tracker: Tracker;
  diffs: Array<[topic: string, diff: PresenceDiff]>;
  /** Diffs that break the wire rules (the tracker swallows throws from onDiff, so they are collected). */
  problems: string[];
  /** What a phoenix.js client that saw every diff of this node shows, per topic. */
  client: Map<string, PresenceMap>;
}

export const HEARTBEAT = 1_000;
export const DOWN = 5_000;
export const SYNC_TIMEOUT = 2_000;

export function testCluster() {
  const hub = createMemoryHub();
  const clock = createManualClock(1_700_000_000_000);
  const nodes: TestNode[] = [];

  const add = (name: string, opts: Partial<TrackerOptions> = {}): TestNode => {
    const bus = flaky(createMemoryBus({ nodeId: name, hub }));
    const n: TestNode = {
      name,
      bus,
      tracker: undefined as unknown as Tracker,
      diffs: [],
      problems: [],
      client: new Map(),
    };
    n.tracker = createTracker({
      bus,
      clock,
      heartbeatMs: HEARTBEAT,
      downPeriodMs: DOWN,
      syncTimeoutMs: SYNC_TIMEOUT,
      onDiff(topic, diff) {
        for (const p of diffProblems(diff)) n.problems.push(`${topic}: ${p}`);
        n.diffs.push([topic, diff]);
        n.client.set(topic, clientApply(n.client.get(topic) ?? Object.create(null), diff));
      },
      ...opts,
    });
    nodes.push(n);
    return n;
  };

  /** Awaits `p`, moving the clock in small steps while it is pending (timeouts, heartbeats). */
  const drive = async <T>(p: Promise<T>, stepMs = 100, maxSteps = 300): Promise<T> => {
    let settled = false;
    p.then(
      () => {
        settled = true;
      },
      () => {
        settled = true;
      },
    );
    for (let i = 0; i < maxSteps && !settled; i++) {
      await turns(3);
      if (!settled) clock.advance(stepMs);
    }
    return p;
  };

  /** Advances the clock by `ms` in heartbeat-sized steps, letting messages flow between steps. */
  const elapse = async (ms: number, stepMs = 250) => {
    for (let t = 0; t < ms; t += stepMs) {
      clock.advance(Math.min(stepMs, ms - t));
      await turns(3);
    }
  };

  return { hub, clock, nodes, add, drive, elapse };
}

export const view = (n: TestNode, topic: string) => canonical(n.tracker.list(topic));
export const clientView = (n: TestNode, topic: string) =>
  canonical(n.client.get(topic) ?? Object.create(null));

/** The refs each key has in a view, for readable assertions. */
export function refs(map: PresenceMap): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const [k, p] of Object.entries(map)) out[k] = p.metas.map((m) => m.phx_ref).sort();
  return out;
}

export const T = "room:lobby";

/** The ref of `key` in the node's own list (tests use one meta per key). */
export const refOf = (n: TestNode, key: string, topic = T) => n.tracker.list(topic)[key]?.metas[0]?.phx_ref;

/** Every node lists the same, and each node's client model agrees with its list. */
export const converged = (ns: TestNode[], topic = T) => {
  const v = view(ns[0]!, topic);
  return ns.every((n) => view(n, topic) === v && clientView(n, topic) === v);
};

/**
 * A fresh cluster per test (closed after it, with a check that no node emitted a malformed
 * diff); `nodes()` adds nodes that are ready and watching.
 */
export function useTestCluster() {
  let current = testCluster();
  afterEach(async () => {
    for (const n of current.nodes) {
      expect(n.problems).toEqual([]);
      await n.tracker.close({ graceful: false });
    }
    current = testCluster();
  });
  return {
    get cluster() {
      return current;
    },
    async nodes(names: string[], topics = [T]): Promise<TestNode[]> {
      const out: TestNode[] = [];
      for (const name of names) {
        const n = current.add(name);
        await current.drive(Promise.all([n.tracker.ready(), ...topics.map((t) => n.tracker.watch(t))]));
        out.push(n);
      }
      return out;
    },
  };
}
