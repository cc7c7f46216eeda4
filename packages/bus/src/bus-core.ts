/**
 * @module
 * What every Bus implementation shares: the local handler table, the receive path (echo
 * drop, decode, dispatch with error isolation), counters and the readiness signal. An
 * implementation only moves encoded envelopes and owns broker subscriptions.
 */
import type { BusHandler, BusLogger, BusStats, NodeId } from "./bus.js";
import { decodeEnvelope, originPrefix } from "./envelope.js";

/** One `subscribe()` call; an object so the same function subscribed twice is two entries. */
export interface HandlerEntry {
  readonly topic: string;
  readonly handler: BusHandler;
}

export type Counters = Omit<BusStats, "subscribedTopics">;

export interface BusCore {
  readonly counters: Counters;
  /** The caller makes the topic live on the broker if this is its first handler. */
  add(topic: string, handler: BusHandler): HandlerEntry;
  /** Removes a handler; it is never called again, even for envelopes already in flight. */
  remove(entry: HandlerEntry): void;
  holds(topic: string): boolean;
  topics(): IterableIterator<string>;
  clear(): void;
  receive(topic: string, wire: string): void;
  stats(): BusStats;
  ready(): boolean;
  setReady(ready: boolean): void;
  onReadyChange(cb: (ready: boolean) => void): () => void;
}

export const silentLogger: BusLogger = { warn() {}, error() {} };

/** Logs at most once per `intervalMs`, reporting how many were suppressed in between. */
export function throttled(intervalMs: number, log: (obj: object, msg: string) => void) {
  let last = Number.NEGATIVE_INFINITY;
  let suppressed = 0;
  return (obj: object, msg: string) => {
    const now = Date.now();
    if (now - last < intervalMs) {
      suppressed++;
      return;
    }
    last = now;
    log(suppressed > 0 ? { ...obj, suppressed } : obj, msg);
    suppressed = 0;
  };
}

export function createBusCore(nodeId: NodeId, logger: BusLogger): BusCore {
  const handlers = new Map<string, Set<HandlerEntry>>();
  const readyListeners = new Set<(ready: boolean) => void>();
  const ownPrefix = originPrefix(nodeId);
  const counters: Counters = {
    published: 0,
    received: 0,
    droppedOwnEcho: 0,
    publishErrors: 0,
    decodeErrors: 0,
    handlerErrors: 0,
  };
  const warnDecode = throttled(5_000, (o, m) => logger.warn(o, m));
  let ready = false;

  return {
    counters,
    add(topic, handler) {
      const entry = { topic, handler };
      const set = handlers.get(topic);
      if (set) set.add(entry);
      else handlers.set(topic, new Set([entry]));
      return entry;
    },
    remove(entry) {
      const set = handlers.get(entry.topic);
      if (!set?.delete(entry)) return;
      if (set.size === 0) handlers.delete(entry.topic);
    },
    holds: (topic) => handlers.has(topic),
    topics: () => handlers.keys(),
    clear: () => handlers.clear(),
    receive(topic, wire) {
      if (wire.startsWith(ownPrefix)) {
        counters.droppedOwnEcho++;
        return;
      }
      const d = decodeEnvelope(wire);
      if (!d.ok) {
        counters.decodeErrors++;
        warnDecode({ topic, reason: d.reason, bytes: wire.length }, "bus: dropped undecodable envelope");
        return;
      }
      counters.received++;
      const set = handlers.get(topic);
      if (!set) return;
      for (const entry of set) {
        try {
          entry.handler(d.msg, d.from);
        } catch (err) {
          counters.handlerErrors++;
          logger.error({ err, topic, kind: d.msg.kind }, "bus: handler threw");
        }
      }
    },
    stats: () => ({ ...counters, subscribedTopics: handlers.size }),
    ready: () => ready,
    setReady(next) {
      if (next === ready) return;
      ready = next;
      // Listeners run inside broker client event handlers; a throw must not unwind those.
      for (const cb of readyListeners) {
        try {
          cb(next);
        } catch (err) {
          logger.error({ err }, "bus: onReadyChange listener threw");
        }
      }
    },
    onReadyChange(cb) {
      readyListeners.add(cb);
      return () => {
        readyListeners.delete(cb);
      };
    },
  };
}
