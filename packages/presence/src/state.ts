/**
 * @module
 * The replicated presence state: a pure CRDT in the spirit of Phoenix's `Tracker.State` (no
 * timers, no I/O, deterministic). Each replica (a node boot: node id + vsn) is the only writer
 * of its own entries, so the cluster state is the union of per-replica sets, and replicating a
 * set needs no causal context: a per-replica version and "replace by a newer snapshot" suffice.
 *
 * - Local operations (this file) change this replica's set, bump its clock once per operation,
 *   return the origin node's diff (one per operation, PROTOCOL.md §6.3), and queue a netted
 *   batch per topic for `takeDeltas`.
 * - Remote merges (state-remote.ts) apply other replicas' deltas in version order, stash the
 *   ones that arrive after a gap and report that a snapshot is needed; snapshots replace a
 *   replica's set when newer. Merging snapshots is commutative, associative and idempotent
 *   (the highest version wins, and one version has one content); deltas delivered in any order,
 *   with or without snapshots in between, converge to the writer's set.
 *
 * For O(1) work per operation, functions update `state` in place and return it: treat the
 * argument as consumed. (Phoenix's state is a persistent map; copying a JS Map per join would
 * make every join O(members).)
 */
import type { NodeId } from "@nexus/bus";
import { addMeta, emptyDiff, emptyMap, render } from "./diff.js";
import { type Packed, refOf, refPrefix, type Slot, unpack } from "./packed.js";
import {
  addLocal,
  localEntries,
  type Outgoing,
  openBatch,
  ownedOn,
  removeLocal,
  seal,
} from "./state-local.js";
import type {
  Delta,
  Meta,
  Owner,
  PresenceDiff,
  PresenceMap,
  RenderedMeta,
  Replica,
  Snapshot,
} from "./types.js";

export interface Entry {
  readonly key: string;
  /** Rendered once; its `phx_ref` is the entry's identity. */
  readonly meta: RenderedMeta;
}

/**
 * This replica's own entries on one topic, by owner (the socket/channel that tracked them):
 * operations go by owner, and one index per topic is all a presence costs here (there is one
 * per joined socket). An owner's entry is kept as is, in a list only from its second on.
 */
export interface LocalSet {
  /** The version of this replica's clock at the set's last change. */
  version: number;
  readonly byOwner: Map<Owner, Entry | Entry[]>;
  /** Entries, each of an owner's counted. */
  size: number;
}

/** Another replica's set on one topic, as of `version` of that replica's clock. */
export interface ReplicaSet {
  version: number;
  /** By ref, packed (see packed.ts): read them with `replicaEntries`. */
  entries: Map<Slot, Packed>;
  /** Deltas that arrived after a gap, waiting for the missing one or a snapshot. */
  stash?: Delta[];
}

export interface ReplicaInfo {
  vsn: number;
  /** Its refs' prefix, which packed entries leave out. */
  prefix: string;
  /** False while declared down: entries kept (same refs come back on replicaUp), not listed. */
  up: boolean;
  /** Left or superseded: its messages are ignored from now on. */
  gone: boolean;
  /** Topics where this node holds a set for it (so going down is O(its entries)). */
  topics: Set<string>;
}

export interface PresenceState {
  readonly self: Replica;
  readonly refPrefix: string;
  /** This replica's clock: the version of its last operation. */
  clock: number;
  refSeq: number;
  /** This replica's own sets; a topic is absent when it has no entries there. */
  readonly local: Map<string, LocalSet>;
  /** Other replicas' sets: topic → node → set. */
  readonly remote: Map<string, Map<NodeId, ReplicaSet>>;
  /** Other replicas by node: at most one current replica per node. */
  readonly replicas: Map<NodeId, ReplicaInfo>;
  readonly outbox: Map<string, Outgoing>;
  /** Batches closed by a snapshot or digest, published before the open ones. */
  readonly sealed: Delta[];
}

export function createState(self: Replica): PresenceState {
  // Refs are the prefix (a hash of the replica, so unique per boot across the cluster) plus a
  // counter, so they are unique, url-safe and never reused, and this module stays deterministic.
  return {
    self,
    refPrefix: refPrefix(self),
    clock: 0,
    refSeq: 0,
    local: new Map(),
    remote: new Map(),
    replicas: new Map(),
    outbox: new Map(),
    sealed: [],
  };
}

export type JoinResult =
  | { ok: true; state: PresenceState; ref: string; diff: PresenceDiff }
  /** Phoenix refuses to track the same (pid, topic, key) twice. */
  | { ok: false; state: PresenceState; reason: "already_tracked" };

export type UpdateResult =
  | { ok: true; state: PresenceState; ref: string; diff: PresenceDiff }
  /** Updating an absent entry changes nothing and produces no diff. */
  | { ok: false; state: PresenceState; reason: "not_tracked" };

export function join(state: PresenceState, topic: string, key: string, owner: Owner, meta: Meta): JoinResult {
  if (ownedOn(state, topic, owner).some((o) => o.key === key)) {
    return { ok: false, state, reason: "already_tracked" };
  }
  const ref = nextRef(state);
  const entry: Entry = { key, meta: render(meta, ref) };
  addLocal(state, topic, owner, entry, openBatch(state, topic));
  const diff = emptyDiff();
  addMeta(diff.joins, key, entry.meta);
  return { ok: true, state, ref, diff };
}

/** Removes every entry `owner` has on `topic` (a channel leaving); null diff when it had none. */
export function leave(
  state: PresenceState,
  topic: string,
  owner: Owner,
): { state: PresenceState; diff: PresenceDiff | null } {
  const mine = [...ownedOn(state, topic, owner)];
  if (mine.length === 0) return { state, diff: null };
  const out = openBatch(state, topic);
  const diff = emptyDiff();
  for (const entry of mine) {
    removeLocal(state, topic, owner, entry, out);
    addMeta(diff.leaves, entry.key, entry.meta);
  }
  return { state, diff };
}

/**
 * Removes every entry of `owner` on every topic (a socket closed): one diff per topic. Looks in
 * every topic this replica has entries on: sets are indexed by owner per topic only.
 */
export function leaveOwner(
  state: PresenceState,
  owner: Owner,
): { state: PresenceState; diffs: Map<string, PresenceDiff> } {
  const diffs = new Map<string, PresenceDiff>();
  const topics = [...state.local].filter(([, set]) => set.byOwner.has(owner)).map(([topic]) => topic);
  for (const topic of topics) {
    const { diff } = leave(state, topic, owner);
    if (diff) diffs.set(topic, diff);
  }
  return { state, diffs };
}

/**
 * Replaces the meta under a new ref that names the old one in `phx_ref_prev`: one operation,
 * one diff with the new meta in joins and the old in leaves (PROTOCOL.md §6.4 rule 2). Always a
 * diff, even when the meta is unchanged, as in Phoenix.
 */
export function update(
  state: PresenceState,
  topic: string,
  key: string,
  owner: Owner,
  meta: Meta,
): UpdateResult {
  const old = ownedOn(state, topic, owner).find((o) => o.key === key);
  if (!old) return { ok: false, state, reason: "not_tracked" };
  const ref = nextRef(state);
  const entry: Entry = { key, meta: render(meta, ref, old.meta.phx_ref) };
  const out = openBatch(state, topic);
  removeLocal(state, topic, owner, old, out);
  addLocal(state, topic, owner, entry, out);
  const diff = emptyDiff();
  addMeta(diff.joins, key, entry.meta);
  addMeta(diff.leaves, key, old.meta);
  return { ok: true, state, ref, diff };
}

/** The Phoenix `presence_state` map: this replica's entries plus those of replicas that are up. */
export function list(state: PresenceState, topic: string): PresenceMap {
  const map = emptyMap();
  const own = state.local.get(topic);
  if (own) for (const e of localEntries(own)) addMeta(map, e.key, e.meta);
  const remote = state.remote.get(topic);
  if (remote) {
    for (const [node, set] of remote) {
      const info = state.replicas.get(node);
      if (!info?.up) continue;
      for (const e of replicaEntries(info, set)) addMeta(map, e.key, e.meta);
    }
  }
  return map;
}

/** A replica's entries on one topic, decoded (fresh objects each time). */
export function* replicaEntries(info: ReplicaInfo, set: ReplicaSet): Generator<Entry> {
  for (const [slot, packed] of set.entries) yield unpack(info.prefix, slot, packed);
}

/** The batches to publish, in order; clears them. Publish each on its topic. */
export function takeDeltas(state: PresenceState): Delta[] {
  const out = state.sealed.splice(0);
  for (const topic of [...state.outbox.keys()]) {
    const d = seal(state, topic, false);
    if (d) out.push(d);
  }
  return out;
}

/**
 * This replica's set on `topic` (empty if none) as of its current clock. Closes the topic's open
 * batch first: a receiver's version then never falls strictly inside a later batch, which is
 * what lets `from <= v < to` decide that a delta applies.
 */
export function snapshot(state: PresenceState, topic: string): Snapshot {
  seal(state, topic, true);
  const set = state.local.get(topic);
  const entries = set ? [...localEntries(set)].map((e): [string, RenderedMeta] => [e.key, e.meta]) : [];
  return { kind: "snapshot", ...state.self, topic, version: state.clock, entries };
}

/**
 * A cheap summary for receivers to detect a lost last delta: the version of the last change
 * and the size (version = the current clock when the set is empty). Closes the open batch too.
 */
export function digest(state: PresenceState, topic: string): { version: number; size: number } {
  seal(state, topic, true);
  const set = state.local.get(topic);
  return set ? { version: set.version, size: set.size } : { version: state.clock, size: 0 };
}

export function localTopics(state: PresenceState): IterableIterator<string> {
  return state.local.keys();
}

function nextRef(state: PresenceState): string {
  state.refSeq++;
  // The format packed.ts relies on to store other replicas' refs as their counter.
  return refOf(state.refPrefix, state.refSeq);
}

export {
  checkDigest,
  dropTopic,
  type MergeResult,
  merge,
  mergeDelta,
  mergeSnapshot,
  type ReplicaResult,
  removeReplica,
  replicaDown,
  replicaUp,
} from "./state-remote.js";
