/**
 * @module
 * The effectful shell over the pure state (state.ts): local calls, the bus, heartbeats, down
 * detection, snapshot exchange. One tracker per gateway node.
 *
 * Scope: per-topic bus topics. Deltas and digests for a Phoenix topic go to `<ns>:t:<topic>`,
 * which a node subscribes to only while it watches that topic (has local subscribers), so a
 * node neither hears nor stores presence of rooms it does not serve (DESIGN.md §6). Only small
 * cluster-wide messages go to everyone: heartbeats (one per node per period), hello/leaving,
 * and the snapshot request a node sends when it starts watching a topic. A join costs one
 * delta to the nodes watching its topic, whatever the topic's size; `list()` is served from
 * memory. One cluster-wide channel would be simpler but makes every node process and store
 * every presence in the cluster.
 *
 * Ordering (PROTOCOL.md §6.4 rule 5): every diff is emitted synchronously by the call that
 * changed the state (a local call, or the bus handler that merged a message), so `onDiff`
 * sees one total order per topic, consistent with the state `list()` returns at any moment.
 */
import type { BusLogger, BusMessage, NodeId, Unsubscribe } from "@nexus/bus";
import { systemClock } from "./clock.js";
import { createLiveness } from "./liveness.js";
import { awaitPeers, type Startup } from "./startup.js";
import {
  createState,
  dropTopic,
  join,
  leave,
  leaveOwner,
  list,
  type PresenceState,
  update,
} from "./state.js";
import { createSyncRequests } from "./sync.js";
import type { Tracker, TrackerOptions } from "./tracker-api.js";
import { createTransfer } from "./transfer.js";
import type { PresenceDiff, PresenceMap } from "./types.js";
import { channels, isValidPresenceMessage } from "./wire.js";

export type { Tracker, TrackerOptions, TrackerStats, TrackResult } from "./tracker-api.js";

interface Watch {
  count: number;
  sub: Promise<Unsubscribe>;
  synced: Promise<void>;
  /**
   * False while the first sync of the topic is under way. What the other nodes' snapshots add
   * meanwhile is catching up, not change: nobody here has a presence_state for the topic yet,
   * and the one each channel pushes once watch() resolves already contains it. Emitting it as
   * diffs would fire onJoin for every remote user on every first join (PROTOCOL.md §6.2).
   */
  live: boolean;
}

const silentLogger: BusLogger = { warn() {}, error() {} };

export function createTracker(opts: TrackerOptions): Tracker {
  const { bus, onDiff, solo = false } = opts;
  const { heartbeatMs = 1_000, downPeriodMs = 5_000, permdownMs = 20 * 60_000, syncTimeoutMs = 2_000 } = opts;
  if (!(heartbeatMs > 0 && downPeriodMs > heartbeatMs && permdownMs >= downPeriodMs && syncTimeoutMs > 0)) {
    throw new Error(
      `presence: expected 0 < heartbeatMs < downPeriodMs <= permdownMs and syncTimeoutMs > 0, got ${heartbeatMs}, ${downPeriodMs}, ${permdownMs}, ${syncTimeoutMs}`,
    );
  }
  const clock = opts.clock ?? systemClock;
  const logger = opts.logger ?? silentLogger;
  const node = bus.nodeId;
  const vsn = opts.vsn ?? clock.now() * 1_000 + Math.floor(Math.random() * 1_000);
  const ch = channels(opts.namespace ?? "presence");
  const state: PresenceState = createState({ node, vsn });
  const watches = new Map<string, Watch>();
  const listCache = new Map<string, PresenceMap>();
  const unsubs: Array<Promise<Unsubscribe>> = [];
  const counters = { deltasPublished: 0, deltasReceived: 0, snapshotsReceived: 0, gapResyncs: 0 };
  let syncTimeouts = 0;
  let invalidMessages = 0;
  let closed = false;

  /** Diffs from merging other nodes' state (local operations go straight to emitOne). */
  const emit = (diffs: Map<string, PresenceDiff>) => {
    for (const [topic, diff] of diffs) {
      if (watches.get(topic)?.live === false) listCache.delete(topic);
      else emitOne(topic, diff);
    }
  };
  const emitOne = (topic: string, diff: PresenceDiff) => {
    listCache.delete(topic);
    try {
      onDiff(topic, diff);
    } catch (err) {
      logger.error({ err, topic }, "presence: onDiff threw");
    }
  };

  const sync = createSyncRequests({
    clock,
    timeoutMs: syncTimeoutMs,
    upPeers: () => liveness.upPeers(),
    sendAll: (reqId, topics) => bus.publish(ch.ctl, { kind: "presence_sync", vsn, reqId, topics }),
    sendTo: (to, reqId, topics) => bus.publish(ch.inbox(to), { kind: "presence_sync", vsn, reqId, topics }),
    onTimeout(reqId, missing) {
      syncTimeouts++;
      logger.warn({ reqId, missing, timeoutMs: syncTimeoutMs }, "presence: snapshot request timed out");
    },
  });

  const transfer = createTransfer({
    state,
    bus,
    ch,
    watched: (topic) => watches.has(topic),
    emit,
    sync,
    counters,
    scheduleFlush: () => scheduleFlush(),
  });

  const liveness = createLiveness({
    state,
    clock,
    heartbeatMs,
    downPeriodMs,
    permdownMs,
    emit,
    onRevived: (peer) => {
      // Its messages may have been lost while it was silent: fetch its sets again.
      if (watches.size > 0) sync.from(peer, watches.keys());
      scheduleFlush();
    },
    onGone: (peer) => sync.forget(peer),
  });

  let flushScheduled = false;
  const scheduleFlush = () => {
    if (flushScheduled || closed) return;
    flushScheduled = true;
    // One I/O turn of operations goes out as one delta per topic (uWS close callbacks of a
    // burst run in one turn; a microtask would flush after each of them).
    setImmediate(flush);
  };
  const flush = () => {
    flushScheduled = false;
    if (closed) return;
    transfer.publishDeltas();
    sync.flush();
  };

  const onMessage = (msg: BusMessage, from: NodeId) => {
    if (closed || !msg.kind.startsWith("presence_")) return;
    if (!isValidPresenceMessage(msg as unknown as Record<string, unknown>)) {
      invalidMessages++;
      return;
    }
    const m = msg as BusMessage & { vsn: number };
    if (m.kind === "presence_leaving") {
      // Not "heard": a down replica saying goodbye must not flicker back up first.
      liveness.left({ node: from, vsn: m.vsn });
      return;
    }
    if (!liveness.heard({ node: from, vsn: m.vsn })) return; // an older boot, or one that left
    if (m.kind === "presence_welcome") {
      if (m.to === vsn) startup?.welcome(from, m.peers);
    } else startup?.heard(from);
    switch (m.kind) {
      case "presence_hello":
        bus.publish(ch.inbox(from), { kind: "presence_welcome", vsn, to: m.vsn, peers: liveness.upPeers() });
        return;
      case "presence_delta":
      case "presence_digest":
      case "presence_sync":
      case "presence_snapshots":
        transfer.onMessage(m, from);
        return;
      default:
        return;
    }
  };

  let startup: Startup | undefined;

  let tickTimer: unknown;
  const started = (async () => {
    unsubs.push(bus.subscribe(ch.ctl, onMessage), bus.subscribe(ch.inbox(node), onMessage));
    await Promise.all(unsubs);
    if (closed) throw new Error(`presence tracker ${node} closed while starting`);
    tickTimer = clock.setInterval(tick, heartbeatMs);
    bus.publish(ch.ctl, { kind: "presence_hb", vsn });
    if (solo) return;
    startup = awaitPeers({
      self: node,
      clock,
      timeoutMs: syncTimeoutMs,
      sendHello: () => bus.publish(ch.ctl, { kind: "presence_hello", vsn }),
    });
    await startup.done;
    startup = undefined;
  })();
  started.catch(() => {}); // surfaced by ready()/watch()

  function tick() {
    if (closed) return;
    transfer.publishDeltas();
    bus.publish(ch.ctl, { kind: "presence_hb", vsn });
    transfer.publishDigests();
    liveness.check();
    sync.sweep(clock.now());
    if (sync.pending()) scheduleFlush();
  }

  // Redis came back (or this node's connection did): messages may have been lost both ways.
  // Re-assert our own sets to the watchers and ask for everyone's sets on what we watch; with
  // both sides doing it, whichever becomes ready last repairs the other (DESIGN.md §6).
  const offReady = bus.onReadyChange((ready) => {
    if (closed) return;
    if (!ready) {
      transfer.outage();
      return;
    }
    void started.then(() => {
      if (closed) return;
      bus.publish(ch.ctl, { kind: "presence_hb", vsn });
      transfer.reassert(watches.keys());
      if (watches.size > 0) void sync.all([...watches.keys()]);
      scheduleFlush();
    }, noop);
  });

  const local = (diff: PresenceDiff | null, topic: string) => {
    if (diff) emitOne(topic, diff);
    scheduleFlush();
  };

  return {
    nodeId: node,
    vsn,
    ready: () => started,

    watch(topic) {
      const existing = watches.get(topic);
      if (existing) {
        existing.count++;
        return existing.synced;
      }
      const w: Watch = {
        count: 1,
        sub: bus.subscribe(ch.topic(topic), onMessage),
        synced: Promise.resolve(),
        live: false,
      };
      watches.set(topic, w);
      // Subscribe before asking for snapshots (PROTOCOL.md §6.4 rule 3): a delta sent after a
      // node answered then reaches us; one sent before is covered by its answer (or stale).
      w.synced = (async () => {
        await Promise.all([started, w.sub]);
        if (watches.get(topic) !== w || closed) return;
        const done = sync.all([topic]);
        scheduleFlush();
        await done;
      })();
      w.synced
        .finally(() => {
          w.live = true;
        })
        .catch(() => {
          if (watches.get(topic) === w) watches.delete(topic);
        });
      return w.synced;
    },

    unwatch(topic) {
      const w = watches.get(topic);
      if (!w || --w.count > 0) return;
      watches.delete(topic);
      void w.sub.then((unsubscribe) => unsubscribe(), noop);
      dropTopic(state, topic);
      listCache.delete(topic);
    },

    track(topic, key, owner, meta) {
      const r = join(state, topic, key, owner, meta);
      if (!r.ok) return { ok: false, reason: r.reason };
      local(r.diff, topic);
      return { ok: true, ref: r.ref };
    },

    untrack(topic, owner) {
      local(leave(state, topic, owner).diff, topic);
    },

    untrackOwner(owner) {
      emit(leaveOwner(state, owner).diffs);
      scheduleFlush();
    },

    update(topic, key, owner, meta) {
      const r = update(state, topic, key, owner, meta);
      if (!r.ok) return { ok: false, reason: r.reason };
      local(r.diff, topic);
      return { ok: true, ref: r.ref };
    },

    list(topic) {
      const cached = listCache.get(topic);
      if (cached) return cached;
      const map = list(state, topic);
      if (watches.has(topic)) listCache.set(topic, map);
      return map;
    },

    peers: () => liveness.upPeers(),

    stats: () => ({
      watchedTopics: watches.size,
      ...liveness.counts(),
      ...counters,
      syncTimeouts,
      invalidMessages,
    }),

    async close({ graceful = true } = {}) {
      if (closed) return;
      if (graceful) {
        transfer.publishDeltas();
        bus.publish(ch.ctl, { kind: "presence_leaving", vsn });
      }
      closed = true;
      clock.clearInterval(tickTimer);
      offReady();
      sync.close();
      startup?.cancel();
      const subs = [...unsubs, ...[...watches.values()].map((w) => w.sub)];
      watches.clear();
      await Promise.all(subs.map((s) => s.then((unsubscribe) => unsubscribe(), noop)));
    },
  };
}

function noop() {}
