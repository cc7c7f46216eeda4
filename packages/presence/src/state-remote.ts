/**
 * @module
 * The remote half of the presence CRDT: merging other replicas' deltas and snapshots, and
 * their lifecycle (up, down, gone). Pure like state.ts; see there for the model.
 *
 * Versions make every delivery order safe:
 * - a delta applies to a set at version v when `from <= v < to`, or when it is `fresh` and the
 *   set is empty; one with `to <= v` is stale and ignored; any other is stashed (a gap) and the
 *   result asks for a snapshot;
 * - a snapshot replaces the set when its version is higher, then stashed deltas that now apply
 *   are drained.
 * Sets are kept (possibly empty, with their version) while this node watches the topic, so a
 * stale fresh delta can never resurrect an entry that later left.
 */
import type { NodeId } from "@nexus/bus";
import { DiffSet } from "./diff.js";
import { type Packed, pack, refPrefix, type Slot, slotOf, unpack } from "./packed.js";
import {
  type Entry,
  type PresenceState,
  type ReplicaInfo,
  type ReplicaSet,
  replicaEntries,
} from "./state.js";
import type { Delta, PresenceDiff, Replica, Snapshot } from "./types.js";

/** Deltas kept per replica and topic while waiting for a snapshot; older ones are dropped. */
const MAX_STASH = 64;

export interface MergeResult {
  state: PresenceState;
  /** One diff per topic that changed (already filtered to real changes). */
  diffs: Map<string, PresenceDiff>;
  /** A gap was detected: ask the sender for a snapshot of this topic. */
  resync: boolean;
}

export interface ReplicaResult {
  state: PresenceState;
  diffs: Map<string, PresenceDiff>;
  /** The replica is current (not stale, not gone): its messages should be merged. */
  accepted: boolean;
  /** It was down and is up again: its sets may be stale, so ask it for snapshots. */
  revived: boolean;
}

export function merge(state: PresenceState, msg: Delta | Snapshot): MergeResult {
  return msg.kind === "delta" ? mergeDelta(state, msg) : mergeSnapshot(state, msg);
}

export function mergeDelta(state: PresenceState, d: Delta): MergeResult {
  const diffs = new DiffSet();
  const info = admit(state, d, diffs);
  if (!info) return { state, diffs: diffs.result(), resync: false };
  const set = setOf(state, d.topic, d.node, info);
  if (d.to > set.version) {
    if (applies(set, d)) apply(set, d, info, diffs);
    else {
      if (set.stash) set.stash.push(d);
      else set.stash = [d];
      if (set.stash.length > MAX_STASH) set.stash.shift();
    }
    drain(set, info, diffs);
  }
  return { state, diffs: diffs.result(), resync: set.stash !== undefined };
}

export function mergeSnapshot(state: PresenceState, s: Snapshot): MergeResult {
  const diffs = new DiffSet();
  const info = admit(state, s, diffs);
  if (!info) return { state, diffs: diffs.result(), resync: false };
  const set = setOf(state, s.topic, s.node, info);
  if (s.version > set.version) {
    const next = new Map<Slot, Packed>();
    const joined: Entry[] = [];
    for (const [key, meta] of s.entries) {
      const slot = slotOf(info.prefix, meta.phx_ref);
      if (next.has(slot)) continue;
      const kept = set.entries.get(slot);
      next.set(slot, kept ?? pack(key, meta));
      if (kept === undefined) joined.push({ key, meta });
    }
    if (info.up) {
      for (const [slot, packed] of set.entries) {
        if (next.has(slot)) continue;
        const e = unpack(info.prefix, slot, packed);
        diffs.leave(s.topic, e.key, e.meta);
      }
      for (const e of joined) diffs.join(s.topic, e.key, e.meta);
    }
    set.entries = next;
    set.version = s.version;
    drain(set, info, diffs);
  }
  return { state, diffs: diffs.result(), resync: set.stash !== undefined };
}

/**
 * Compares a replica's digest of a topic with our copy; `resync` when ours is behind (its last
 * delta was lost). An empty digest newer than our empty copy just advances the version.
 */
export function checkDigest(
  state: PresenceState,
  r: Replica & { topic: string; version: number; size: number },
): MergeResult {
  const diffs = new DiffSet();
  const info = admit(state, r, diffs);
  if (!info) return { state, diffs: diffs.result(), resync: false };
  const set = setOf(state, r.topic, r.node, info);
  let resync: boolean;
  if (r.size === 0) {
    resync = set.entries.size > 0 && set.version < r.version;
    if (!resync && r.version > set.version) set.version = r.version;
  } else {
    resync = set.version < r.version || (set.version === r.version && set.entries.size !== r.size);
  }
  return { state, diffs: diffs.result(), resync: resync || set.stash !== undefined };
}

/** Marks a replica down: its entries leave every topic but are kept for `replicaUp`. */
export function replicaDown(
  state: PresenceState,
  r: Replica,
): { state: PresenceState; diffs: Map<string, PresenceDiff> } {
  const diffs = new DiffSet();
  const info = state.replicas.get(r.node);
  if (info && info.vsn === r.vsn && info.up && !info.gone) {
    info.up = false;
    eachEntry(state, r.node, info, (topic, e) => diffs.leave(topic, e.key, e.meta));
  }
  return { state, diffs: diffs.result() };
}

/**
 * The replica is alive (it was heard from): registers it if new, drops an older boot of the
 * same node (leaves for its entries), and brings a down replica back with join diffs carrying
 * the same refs (PROTOCOL.md §6.4 rule 8).
 */
export function replicaUp(state: PresenceState, r: Replica): ReplicaResult {
  const diffs = new DiffSet();
  const info = admit(state, r, diffs);
  let revived = false;
  if (info && !info.up) {
    info.up = true;
    revived = true;
    eachEntry(state, r.node, info, (topic, e) => diffs.join(topic, e.key, e.meta));
  }
  return { state, diffs: diffs.result(), accepted: info !== undefined, revived };
}

/** The replica left (graceful stop, or down long enough): its entries go, silently if it was down. */
export function removeReplica(
  state: PresenceState,
  r: Replica,
): { state: PresenceState; diffs: Map<string, PresenceDiff> } {
  const diffs = new DiffSet();
  const info = admit(state, r, diffs);
  if (info) {
    purge(state, r.node, info, diffs);
    info.gone = true;
  }
  return { state, diffs: diffs.result() };
}

/** Forgets other replicas' sets on a topic this node no longer watches (no diffs: nobody listens). */
export function dropTopic(state: PresenceState, topic: string): PresenceState {
  const byNode = state.remote.get(topic);
  if (!byNode) return state;
  for (const node of byNode.keys()) state.replicas.get(node)?.topics.delete(topic);
  state.remote.delete(topic);
  return state;
}

/** The current record for a replica, or undefined when its messages must be ignored. */
function admit(state: PresenceState, r: Replica, diffs: DiffSet): ReplicaInfo | undefined {
  if (r.node === state.self.node) return undefined;
  let info = state.replicas.get(r.node);
  if (info && r.vsn < info.vsn) return undefined; // an older boot: in-flight leftovers
  if (info && r.vsn > info.vsn) {
    // The node restarted: its previous boot's entries are gone for good.
    purge(state, r.node, info, diffs);
    info = undefined;
  }
  if (!info) {
    info = { vsn: r.vsn, prefix: refPrefix(r), up: true, gone: false, topics: new Set() };
    state.replicas.set(r.node, info);
  }
  return info.gone ? undefined : info;
}

function purge(state: PresenceState, node: NodeId, info: ReplicaInfo, diffs: DiffSet): void {
  if (info.up) eachEntry(state, node, info, (topic, e) => diffs.leave(topic, e.key, e.meta));
  for (const topic of info.topics) {
    const byNode = state.remote.get(topic);
    byNode?.delete(node);
    if (byNode?.size === 0) state.remote.delete(topic);
  }
  info.topics.clear();
}

function eachEntry(
  state: PresenceState,
  node: NodeId,
  info: ReplicaInfo,
  fn: (topic: string, e: Entry) => void,
) {
  for (const topic of info.topics) {
    const set = state.remote.get(topic)?.get(node);
    if (set) for (const e of replicaEntries(info, set)) fn(topic, e);
  }
}

function setOf(state: PresenceState, topic: string, node: NodeId, info: ReplicaInfo): ReplicaSet {
  let byNode = state.remote.get(topic);
  if (!byNode) {
    byNode = new Map();
    state.remote.set(topic, byNode);
  }
  let set = byNode.get(node);
  if (!set) {
    set = { version: 0, entries: new Map() };
    byNode.set(node, set);
    info.topics.add(topic);
  }
  return set;
}

function applies(set: ReplicaSet, d: Delta): boolean {
  return (
    (d.from <= set.version && set.version < d.to) || (d.fresh && set.entries.size === 0 && set.version < d.to)
  );
}

function apply(set: ReplicaSet, d: Delta, info: ReplicaInfo, diffs: DiffSet): void {
  for (const ref of d.leaves) {
    const slot = slotOf(info.prefix, ref);
    const packed = set.entries.get(slot);
    if (packed === undefined) continue;
    set.entries.delete(slot);
    if (info.up) {
      const e = unpack(info.prefix, slot, packed);
      diffs.leave(d.topic, e.key, e.meta);
    }
  }
  for (const [key, meta] of d.joins) {
    const slot = slotOf(info.prefix, meta.phx_ref);
    if (set.entries.has(slot)) continue;
    set.entries.set(slot, pack(key, meta));
    if (info.up) diffs.join(d.topic, key, meta);
  }
  set.version = d.to;
}

/** Applies stashed deltas that a newer version made applicable; drops the ones it made stale. */
function drain(set: ReplicaSet, info: ReplicaInfo, diffs: DiffSet): void {
  while (set.stash) {
    set.stash = set.stash.filter((d) => d.to > set.version);
    const i = set.stash.findIndex((d) => applies(set, d));
    if (i >= 0) apply(set, set.stash.splice(i, 1)[0]!, info, diffs);
    if (set.stash.length === 0) delete set.stash;
    else if (i < 0) break;
  }
}
