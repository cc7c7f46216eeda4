/**
 * @module
 * Internals of state.ts: how this replica's own operations change its sets and queue the
 * netted per-topic batches that become deltas.
 */
import type { Entry, LocalSet, PresenceState } from "./state.js";
import type { Delta, Owner } from "./types.js";

/** The open batch of one topic: operations since the last flush, netted. */
export interface Outgoing {
  from: number;
  fresh: boolean;
  to: number;
  joins: Map<string, Entry>;
  leaves: Set<string>;
}

const NONE: readonly Entry[] = [];

/** What `owner` tracks on `topic` (a set keeps a single entry without an array). */
export function ownedOn(state: PresenceState, topic: string, owner: Owner): readonly Entry[] {
  const owned = state.local.get(topic)?.byOwner.get(owner);
  return owned === undefined ? NONE : Array.isArray(owned) ? owned : [owned];
}

/** Every entry of a local set. */
export function* localEntries(set: LocalSet): Generator<Entry> {
  for (const owned of set.byOwner.values()) {
    if (Array.isArray(owned)) yield* owned;
    else yield owned;
  }
}

/** Opens (or continues) the topic's batch and bumps the clock for one operation. */
export function openBatch(state: PresenceState, topic: string): Outgoing {
  let out = state.outbox.get(topic);
  if (!out) {
    const set = state.local.get(topic);
    // `fresh`: the set was empty before this batch (no set kept), so `from` is just "now".
    out = { from: set ? set.version : state.clock, fresh: !set, to: 0, joins: new Map(), leaves: new Set() };
    state.outbox.set(topic, out);
  }
  state.clock++;
  out.to = state.clock;
  return out;
}

export function seal(state: PresenceState, topic: string, toSealed: boolean): Delta | undefined {
  const out = state.outbox.get(topic);
  if (!out) return undefined;
  state.outbox.delete(topic);
  // A batch that started and ended with an empty set changed nothing anyone could have seen.
  if (out.fresh && out.joins.size === 0 && out.leaves.size === 0) return undefined;
  const d: Delta = {
    kind: "delta",
    ...state.self,
    topic,
    from: out.from,
    to: out.to,
    fresh: out.fresh,
    joins: [...out.joins.values()].map((e) => [e.key, e.meta]),
    leaves: [...out.leaves],
  };
  if (toSealed) state.sealed.push(d);
  return d;
}

export function addLocal(
  state: PresenceState,
  topic: string,
  owner: Owner,
  entry: Entry,
  out: Outgoing,
): void {
  let set = state.local.get(topic);
  if (!set) {
    set = { version: state.clock, byOwner: new Map(), size: 0 };
    state.local.set(topic, set);
  }
  const owned = set.byOwner.get(owner);
  if (owned === undefined) set.byOwner.set(owner, entry);
  else if (Array.isArray(owned)) owned.push(entry);
  else set.byOwner.set(owner, [owned, entry]);
  set.size++;
  set.version = state.clock;
  out.joins.set(entry.meta.phx_ref, entry);
}

export function removeLocal(
  state: PresenceState,
  topic: string,
  owner: Owner,
  entry: Entry,
  out: Outgoing,
): void {
  const set = state.local.get(topic);
  const owned = set?.byOwner.get(owner);
  if (!set || owned === undefined) return;
  if (owned === entry) {
    set.byOwner.delete(owner);
  } else if (Array.isArray(owned) && owned.includes(entry)) {
    const rest = owned.filter((e) => e !== entry);
    set.byOwner.set(owner, rest.length === 1 ? rest[0]! : rest);
  } else {
    return;
  }
  set.size--;
  set.version = state.clock;
  const ref = entry.meta.phx_ref;
  // Joined and left within one batch: receivers never hear of it (join-then-leave cancels).
  if (!out.joins.delete(ref)) out.leaves.add(ref);
  // An empty set is not kept: the next batch here is `fresh`, which receivers accept without
  // knowing this replica's versions in between.
  if (set.size === 0) state.local.delete(topic);
}
