/**
 * @module
 * The tracker's public contract: what the gateway configures and calls.
 */
import type { Bus, BusLogger, NodeId } from "@nexus/bus";
import type { Clock } from "./clock.js";
import type { Meta, Owner, PresenceDiff, PresenceMap } from "./types.js";

export interface TrackerOptions {
  bus: Bus;
  /** Called once per topic per change with the Phoenix diff; broadcast it locally as presence_diff. */
  onDiff(topic: string, diff: PresenceDiff): void;
  /** Heartbeat (and digest) period. Default 1000. */
  heartbeatMs?: number;
  /** Silence after which a node is declared down and its entries leave. Default 5000 (PRESENCE_DOWN_MS). */
  downPeriodMs?: number;
  /** A down node's entries are forgotten (silently) after this long. Default 20 min, as Phoenix. */
  permdownMs?: number;
  /** Bound on waiting for other nodes' snapshots (`ready()`, `watch()`). Default 2000. */
  syncTimeoutMs?: number;
  /** No other node can exist (standalone, in-process bus): `ready()` does not wait for peers. */
  solo?: boolean;
  /** Prefix of the bus topics presence uses. Default "presence". */
  namespace?: string;
  clock?: Clock;
  logger?: BusLogger;
  /** This boot's version; must grow across boots of one node id. Default: from the clock. */
  vsn?: number;
}

export type TrackResult =
  | { ok: true; ref: string }
  | { ok: false; reason: "already_tracked" | "not_tracked" };

export interface TrackerStats {
  watchedTopics: number;
  peersUp: number;
  peersDown: number;
  deltasPublished: number;
  deltasReceived: number;
  snapshotsReceived: number;
  /** Snapshot requests caused by a detected gap (lost message). */
  gapResyncs: number;
  syncTimeouts: number;
  invalidMessages: number;
}

export interface Tracker {
  readonly nodeId: NodeId;
  readonly vsn: number;
  /** Subscribed, and heard from the other nodes (or the sync timeout passed). Rejects only if closed first. */
  ready(): Promise<void>;
  /**
   * Counts local interest in a topic. The first call subscribes to its presence traffic and then
   * asks every node for its entries there; resolves once they answered (bounded by
   * syncTimeoutMs), after `ready()`. Later calls return the same promise.
   */
  watch(topic: string): Promise<void>;
  /** The last unwatch drops the subscription and the other nodes' entries for the topic. */
  unwatch(topic: string): void;
  /** Adds an entry owned by `owner` (e.g. the connection id); emits its join diff before returning. */
  track(topic: string, key: string, owner: Owner, meta: Meta): TrackResult;
  /** Removes `owner`'s entries on `topic` (channel left); no diff if none. */
  untrack(topic: string, owner: Owner): void;
  /** Removes every entry of `owner` (socket closed): one diff per topic. Looks at every topic tracked here. */
  untrackOwner(owner: Owner): void;
  /** New meta under a new ref with phx_ref_prev: one diff. */
  update(topic: string, key: string, owner: Owner, meta: Meta): TrackResult;
  /** The cluster-wide presence_state map from memory. Shared and cached: do not mutate it. */
  list(topic: string): PresenceMap;
  /** Other nodes currently considered up. */
  peers(): NodeId[];
  stats(): TrackerStats;
  /** Graceful (default): other nodes drop this node's entries at once instead of after the down period. */
  close(opts?: { graceful?: boolean }): Promise<void>;
}
