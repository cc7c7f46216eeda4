/**
 * @module
 * Snapshot requests ("state transfers"): batched per flush, deduplicated, bounded in time.
 *
 * - `all(topics)` asks every node (on the ctl topic) and resolves once every node believed up
 *   at send time has answered, or after the timeout: a node that is busy or dying must not hold
 *   a join hostage. Every node answers, even with nothing, so completion is knowable.
 * - `from(node, topics)` asks one node (gap repair, a revived replica); fire and forget.
 * A (node, topic) pair already asked and not yet answered is not asked again until the timeout.
 */
import type { NodeId } from "@nexus/bus";
import type { Clock, TimerHandle } from "./clock.js";

export interface SyncDeps {
  clock: Clock;
  timeoutMs: number;
  upPeers(): NodeId[];
  sendAll(reqId: number, topics: string[]): void;
  sendTo(node: NodeId, reqId: number, topics: string[]): void;
  onTimeout(reqId: number, missing: NodeId[]): void;
}

export interface SyncRequests {
  all(topics: Iterable<string>): Promise<void>;
  from(node: NodeId, topics: Iterable<string>): void;
  /** True when `flush` has something to send. */
  pending(): boolean;
  flush(): void;
  /** `node` answered request `reqId` for `topics`. */
  replied(node: NodeId, reqId: number, topics: readonly string[]): void;
  /** `node` is down or gone: stop waiting for it. */
  forget(node: NodeId): void;
  /** Lets unanswered (node, topic) pairs be asked again. */
  sweep(now: number): void;
  /** Resolves every waiter. */
  close(): void;
}

const pairKey = (node: NodeId, topic: string) => `${node}\n${topic}`;

export function createSyncRequests(deps: SyncDeps): SyncRequests {
  const { clock, timeoutMs } = deps;
  let seq = 0;
  let batchAll: { topics: Set<string>; waiters: Array<() => void> } | undefined;
  const batchTo = new Map<NodeId, Set<string>>();
  const open = new Map<number, { waiting: Set<NodeId>; done: () => void; timer: TimerHandle }>();
  /** (node, topic) → deadline of the outstanding request. */
  const inflight = new Map<string, number>();

  const finish = (reqId: number, timedOut: boolean) => {
    const o = open.get(reqId);
    if (!o) return;
    open.delete(reqId);
    clock.clearTimeout(o.timer);
    if (timedOut) deps.onTimeout(reqId, [...o.waiting]);
    o.done();
  };
  const mark = (node: NodeId, topics: Iterable<string>, deadline: number) => {
    for (const t of topics) inflight.set(pairKey(node, t), deadline);
  };

  return {
    all(topics) {
      batchAll ??= { topics: new Set(), waiters: [] };
      const b = batchAll;
      for (const t of topics) b.topics.add(t);
      return new Promise((resolve) => b.waiters.push(resolve));
    },

    from(node, topics) {
      const now = clock.now();
      let set = batchTo.get(node);
      for (const t of topics) {
        if ((inflight.get(pairKey(node, t)) ?? 0) > now) continue;
        if (!set) {
          set = new Set();
          batchTo.set(node, set);
        }
        set.add(t);
      }
    },

    pending: () => batchAll !== undefined || batchTo.size > 0,

    flush() {
      const deadline = clock.now() + timeoutMs;
      if (batchAll) {
        const { topics, waiters } = batchAll;
        batchAll = undefined;
        const reqId = ++seq;
        const peers = deps.upPeers();
        for (const p of peers) mark(p, topics, deadline);
        const done = () => {
          for (const w of waiters) w();
        };
        if (peers.length === 0) done();
        else {
          const timer = clock.setTimeout(() => finish(reqId, true), timeoutMs);
          open.set(reqId, { waiting: new Set(peers), done, timer });
        }
        // Sent even with no known peer: a node we have not heard from yet still answers.
        deps.sendAll(reqId, [...topics]);
      }
      for (const [node, topics] of batchTo) {
        mark(node, topics, deadline);
        deps.sendTo(node, ++seq, [...topics]);
      }
      batchTo.clear();
    },

    replied(node, reqId, topics) {
      for (const t of topics) inflight.delete(pairKey(node, t));
      const o = open.get(reqId);
      if (!o?.waiting.delete(node)) return;
      if (o.waiting.size === 0) finish(reqId, false);
    },

    forget(node) {
      for (const [reqId, o] of open) {
        if (o.waiting.delete(node) && o.waiting.size === 0) finish(reqId, false);
      }
    },

    sweep(now) {
      for (const [k, deadline] of inflight) if (deadline <= now) inflight.delete(k);
    },

    close() {
      for (const reqId of [...open.keys()]) finish(reqId, false);
      const b = batchAll;
      batchAll = undefined;
      if (b) for (const w of b.waiters) w();
    },
  };
}
