/**
 * @module
 * Keeps the broker's subscriptions equal to the topics this node holds, across quick
 * subscribe/unsubscribe churn and across reconnects. Broker-agnostic (the Redis bus plugs in
 * SUBSCRIBE or SSUBSCRIBE), so the races are unit-tested with a fake broker.
 *
 * Invariants:
 * - One reconcile pass at a time. A pass snapshots the dirty topics, compares "wanted" (the
 *   handler table, read at that moment) with "live" (acknowledged on this connection) and sends
 *   only the difference. A topic touched while its command is in flight is dirty again and gets
 *   looked at after the ack, so subscribe → unsubscribe → subscribe in one tick ends subscribed,
 *   and the broker never sees SUBSCRIBE and UNSUBSCRIBE for one topic racing each other.
 * - `live` describes the current connection only. A disconnect empties it and bumps the epoch;
 *   a pass from an older epoch drops its results (its commands may never settle: the client does
 *   not resend or reject them), and the reconnect re-dirties every wanted topic.
 */
import type { BusLogger } from "./bus.js";

export interface SubscriptionTransport {
  /** Resolves once the broker acknowledged every topic. */
  subscribe(topics: string[]): Promise<unknown>;
  unsubscribe(topics: string[]): Promise<unknown>;
  /**
   * True if the command failed because the connection is going away (its 'close' may not have
   * been reported yet). Such a failure settles nothing: the reconnect resubscribes.
   */
  isConnectionError(err: unknown): boolean;
}

export interface SubscriptionsOptions {
  transport: SubscriptionTransport;
  wanted(topic: string): boolean;
  wantedTopics(): Iterable<string>;
  /** Synced = connected and the first pass after connecting (the resubscribe) is done. */
  onSyncedChange(synced: boolean): void;
  logger: BusLogger;
}

export interface Subscriptions {
  /** Resolves when the topic is live on the broker; waits across reconnects. */
  want(topic: string): Promise<void>;
  /** Resolves when the broker has dropped the topic, unless wanted again meanwhile; at once while disconnected. */
  release(topic: string): Promise<void>;
  connected(): void;
  disconnected(): void;
  /** Rejects every pending `want`. */
  close(): void;
  isSynced(): boolean;
  isLive(topic: string): boolean;
}

interface Waiter {
  needsLive: boolean;
  resolve(): void;
  reject(err: Error): void;
}

export function createSubscriptions(opts: SubscriptionsOptions): Subscriptions {
  const { transport, wanted, logger } = opts;
  const live = new Set<string>();
  const dirty = new Set<string>();
  const waiters = new Map<string, Waiter[]>();
  let epoch = 0;
  let isConnected = false;
  let synced = false;
  let running = false;
  let closed = false;

  const setSynced = (next: boolean) => {
    if (next === synced) return;
    synced = next;
    opts.onSyncedChange(next);
  };

  const wait = (topic: string, needsLive: boolean) =>
    new Promise<void>((resolve, reject) => {
      const list = waiters.get(topic);
      const w = { needsLive, resolve, reject };
      if (list) list.push(w);
      else waiters.set(topic, [w]);
    });

  /**
   * Settles the waiters the topic's state allows. A live topic satisfies every `want` at once.
   * Releases, failures and abandoned wants only settle on a `final` look, i.e. when no newer
   * change to the topic is still queued.
   */
  const settle = (topic: string, final: boolean, failure?: Error) => {
    const list = waiters.get(topic);
    if (!list) return;
    const isLive = live.has(topic);
    const keep = list.filter((w) => {
      if (w.needsLive && isLive) w.resolve();
      else if (!final) return true;
      else if (!w.needsLive) w.resolve();
      else if (failure) w.reject(failure);
      else if (!wanted(topic)) w.reject(new Error("released before the subscription was acknowledged"));
      else return true;
      return false;
    });
    if (keep.length > 0) waiters.set(topic, keep);
    else waiters.delete(topic);
  };

  const apply = async (batch: string[], thisEpoch: number) => {
    const toSub: string[] = [];
    const toUnsub: string[] = [];
    for (const t of batch) {
      const w = wanted(t);
      if (w && !live.has(t)) toSub.push(t);
      else if (!w && live.has(t)) toUnsub.push(t);
    }
    const [sub, unsub] = await Promise.allSettled([
      toSub.length > 0 ? transport.subscribe(toSub) : undefined,
      toUnsub.length > 0 ? transport.unsubscribe(toUnsub) : undefined,
    ]);
    if (thisEpoch !== epoch) return false;
    let subFailure: Error | undefined;
    if (sub.status === "fulfilled") for (const t of toSub) live.add(t);
    else if (transport.isConnectionError(sub.reason)) {
      logger.warn({ err: sub.reason, topics: toSub.length }, "bus: subscribe lost with its connection");
    } else {
      subFailure = sub.reason instanceof Error ? sub.reason : new Error(String(sub.reason));
      logger.error({ err: subFailure, topics: toSub.length }, "bus: broker refused subscribe");
    }
    if (unsub.status === "fulfilled") for (const t of toUnsub) live.delete(t);
    else if (!transport.isConnectionError(unsub.reason))
      logger.error({ err: unsub.reason, topics: toUnsub.length }, "bus: broker refused unsubscribe");
    const failed = new Set(subFailure ? toSub : []);
    // A topic touched during the flight is dirty again: the next pass has the final word on it.
    for (const t of batch) settle(t, !dirty.has(t), failed.has(t) ? subFailure : undefined);
    return true;
  };

  const run = async () => {
    if (running || !isConnected || closed) return;
    running = true;
    const thisEpoch = epoch;
    try {
      while (dirty.size > 0) {
        const batch = [...dirty];
        dirty.clear();
        if (!(await apply(batch, thisEpoch))) return;
        setSynced(true);
      }
      setSynced(true);
    } catch (err) {
      logger.error({ err }, "bus: subscription reconcile failed");
    } finally {
      // After a disconnect `running` belongs to the next epoch's pass.
      if (thisEpoch === epoch) running = false;
    }
  };

  // Deferred by a microtask so that every subscribe of one tick (a client joining many topics,
  // a burst of joins) goes out as one SUBSCRIBE.
  let scheduled = false;
  const kick = (topic: string) => {
    dirty.add(topic);
    if (scheduled) return;
    scheduled = true;
    queueMicrotask(() => {
      scheduled = false;
      void run();
    });
  };

  return {
    want(topic) {
      if (closed) return Promise.reject(new Error("bus is closed"));
      const p = wait(topic, true);
      kick(topic);
      return p;
    },
    release(topic) {
      if (closed || !isConnected) return Promise.resolve();
      const p = wait(topic, false);
      kick(topic);
      return p;
    },
    connected() {
      if (closed || isConnected) return;
      isConnected = true;
      for (const t of opts.wantedTopics()) dirty.add(t);
      void run();
    },
    disconnected() {
      if (!isConnected) return;
      isConnected = false;
      epoch++;
      running = false;
      live.clear();
      setSynced(false);
      // Dirty topics that nobody wants any more need nothing: the broker forgot them too.
      for (const t of dirty) if (!wanted(t)) dirty.delete(t);
      for (const t of [...waiters.keys()]) settle(t, true);
    },
    close() {
      closed = true;
      isConnected = false;
      epoch++;
      live.clear();
      dirty.clear();
      setSynced(false);
      const err = new Error("bus closed before the subscription was acknowledged");
      for (const t of [...waiters.keys()]) settle(t, true, err);
    },
    isSynced: () => synced,
    isLive: (topic) => live.has(topic),
  };
}
