/**
 * @module
 * The shapes presence deals in: what Phoenix clients see (PROTOCOL.md §6.1) and what replicas
 * exchange. Everything here survives a JSON round trip.
 */
import type { NodeId } from "@nexus/bus";

/**
 * Who tracked an entry on this node (a connection id, a channel object): untracking goes by
 * owner, compared by identity (SameValueZero). An object the caller already has costs no
 * string per presence.
 */
export type Owner = string | number | object;

/** A tracked meta as the application gives it (a JSON object). */
export type Meta = { [key: string]: unknown };

/** A meta as clients see it: the tracked meta plus `phx_ref` (and `phx_ref_prev` after an update). */
export type RenderedMeta = Meta & { phx_ref: string; phx_ref_prev?: string };

export interface Presence {
  metas: RenderedMeta[];
}

/**
 * `presence_state` payload, and each half of a diff: key → metas, never an empty `metas`.
 * Built with a null prototype so a key such as `__proto__` is an ordinary entry; treat it as
 * read-only (the metas are shared with the tracker's state).
 */
export type PresenceMap = Record<string, Presence>;

/** `presence_diff` payload: both halves always present (PROTOCOL.md §6.4 rule 6). */
export interface PresenceDiff {
  joins: PresenceMap;
  leaves: PresenceMap;
}

/**
 * One boot of one node. `vsn` grows across boots of the same node, so a larger vsn supersedes
 * a smaller one (the restarted node's old entries are dropped at once, not after a down period).
 */
export interface Replica {
  node: NodeId;
  vsn: number;
}

/** One entry on the wire: its key and its rendered meta (which carries the ref). */
export type WireEntry = [key: string, meta: RenderedMeta];

/**
 * A batch of one replica's operations on one topic. Versions are values of the replica's
 * clock (one counter over all its topics, bumped once per operation).
 *
 * Applies to a receiver's copy of that replica's set at version v when `from <= v < to`, or
 * when `fresh` (the writer's set was empty just before the batch) and the receiver's copy is
 * empty too: whatever the receiver missed then netted out to nothing. Joins and leaves are
 * netted within the batch, so an entry added and removed in one batch is never sent
 * (PROTOCOL.md §6.4 rule 7; refs are never reused, so nothing can leave and rejoin).
 */
export interface Delta {
  kind: "delta";
  node: NodeId;
  vsn: number;
  topic: string;
  from: number;
  to: number;
  fresh: boolean;
  joins: WireEntry[];
  /** Refs of entries that left; the receiver has their full metas. */
  leaves: string[];
}

/** A replica's complete set on one topic as of `version` (empty when it has no entries there). */
export interface Snapshot {
  kind: "snapshot";
  node: NodeId;
  vsn: number;
  topic: string;
  version: number;
  entries: WireEntry[];
}
