/**
 * @module
 * Moving sets between nodes: publishing this node's deltas, digests and re-assertions, answering
 * snapshot requests, and merging what other nodes send. Only topics this node watches are
 * merged; a message for another topic (in flight across an unwatch) is ignored.
 */
import type { Bus, BusMessage, NodeId } from "@nexus/bus";
import {
  checkDigest,
  digest,
  localTopics,
  mergeDelta,
  mergeSnapshot,
  type PresenceState,
  snapshot,
  takeDeltas,
} from "./state.js";
import type { SyncRequests } from "./sync.js";
import type { PresenceDiff, WireEntry } from "./types.js";
import type { Channels } from "./wire.js";

export interface TransferCounters {
  deltasPublished: number;
  deltasReceived: number;
  snapshotsReceived: number;
  gapResyncs: number;
}

export interface TransferDeps {
  state: PresenceState;
  bus: Bus;
  ch: Channels;
  watched(topic: string): boolean;
  emit(diffs: Map<string, PresenceDiff>): void;
  sync: SyncRequests;
  counters: TransferCounters;
  scheduleFlush(): void;
}

type TransferMessage = BusMessage<
  "presence_delta" | "presence_digest" | "presence_sync" | "presence_snapshots"
>;

export function createTransfer(d: TransferDeps) {
  const { state, bus, ch, sync, counters } = d;
  const { vsn } = state.self;
  // Topics with deltas published in the current and the previous heartbeat period.
  let dirty = new Set<string>();
  let lastDirty = new Set<string>();
  // Topics with deltas published since the bus last went down (those deltas were dropped).
  let sinceOutage: Set<string> | undefined;

  const gap = (from: NodeId, topic: string) => {
    counters.gapResyncs++;
    sync.from(from, [topic]);
    d.scheduleFlush();
  };

  const publishDeltas = () => {
    for (const x of takeDeltas(state)) {
      const { topic, from, to, fresh, joins, leaves } = x;
      bus.publish(ch.topic(topic), { kind: "presence_delta", vsn, topic, from, to, fresh, joins, leaves });
      dirty.add(topic);
      sinceOutage?.add(topic);
      counters.deltasPublished++;
    }
  };

  return {
    publishDeltas,

    /**
     * A topic whose last delta went out in the previous period, and none since, gets a digest:
     * a watcher that lost that delta (pub/sub is at-most-once) sees it is behind and asks for a
     * snapshot. Call right after publishDeltas, so no batch is open.
     */
    publishDigests() {
      for (const topic of lastDirty) {
        if (dirty.has(topic)) continue;
        const { version, size } = digest(state, topic);
        bus.publish(ch.topic(topic), { kind: "presence_digest", vsn, topic, version, size });
      }
      lastDirty = dirty;
      dirty = new Set();
    },

    /** The bus went down: remember which topics' deltas are lost from now on. */
    outage() {
      sinceOutage ??= new Set();
    },

    /**
     * After an outage: publishes our set (possibly empty) on every topic where a watcher may
     * hold a stale copy: where we have entries, where we watch, and where deltas went out
     * recently or during the outage. An empty snapshot matters as much as a full one: a node
     * whose last entry on a topic left while Redis was away must still clear it elsewhere.
     */
    reassert(watchedTopics: Iterable<string>) {
      publishDeltas();
      const topics = new Set([
        ...localTopics(state),
        ...watchedTopics,
        ...dirty,
        ...lastDirty,
        ...(sinceOutage ?? []),
      ]);
      sinceOutage = undefined;
      for (const topic of topics) {
        const s = snapshot(state, topic);
        const sets: Array<[string, WireEntry[]]> = [[topic, s.entries]];
        bus.publish(ch.topic(topic), {
          kind: "presence_snapshots",
          vsn,
          version: s.version,
          topics: [topic],
          sets,
        });
      }
    },

    onMessage(m: TransferMessage, from: NodeId) {
      switch (m.kind) {
        case "presence_delta": {
          if (!d.watched(m.topic)) return;
          counters.deltasReceived++;
          const r = mergeDelta(state, { ...m, kind: "delta", node: from });
          d.emit(r.diffs);
          if (r.resync) gap(from, m.topic);
          return;
        }
        case "presence_digest": {
          if (!d.watched(m.topic)) return;
          const r = checkDigest(state, {
            node: from,
            vsn: m.vsn,
            topic: m.topic,
            version: m.version,
            size: m.size,
          });
          d.emit(r.diffs);
          if (r.resync) gap(from, m.topic);
          return;
        }
        case "presence_sync": {
          // Our open batches go out first, so the answer is never older than a delta in flight.
          publishDeltas();
          const sets: Array<[string, WireEntry[]]> = [];
          for (const topic of m.topics) {
            const s = snapshot(state, topic);
            if (s.entries.length > 0) sets.push([topic, s.entries]);
          }
          bus.publish(ch.inbox(from), {
            kind: "presence_snapshots",
            vsn,
            reqId: m.reqId,
            to: m.vsn,
            version: state.clock,
            topics: m.topics,
            sets,
          });
          return;
        }
        case "presence_snapshots": {
          if (m.reqId !== undefined && m.to === vsn) sync.replied(from, m.reqId, m.topics);
          const sets = new Map(m.sets);
          for (const topic of m.topics) {
            if (!d.watched(topic)) continue;
            counters.snapshotsReceived++;
            const entries = sets.get(topic) ?? [];
            const r = mergeSnapshot(state, {
              kind: "snapshot",
              node: from,
              vsn: m.vsn,
              topic,
              version: m.version,
              entries,
            });
            d.emit(r.diffs);
            if (r.resync) gap(from, topic);
          }
          return;
        }
      }
    },
  };
}
