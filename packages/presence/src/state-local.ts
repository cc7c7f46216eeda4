/**
 * @module
 * Internals of state.ts: how this replica's own operations change its sets and queue the
 * netted per-topic batches that become deltas.
 */
import type { Entry, PresenceState } from "./state.js";
import type { Delta } from "./types.js";

/** The open batch of one topic: operations since the last flush, netted. */
export interface Outgoing {
  from: number;
  fresh: boolean;
  to: number;
  joins: Map<string, Entry>;
  leaves: Set<string>;
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

export function addLocal(state: PresenceState, topic: string, entry: Entry, out: Outgoing): void {
  let set = state.local.get(topic);
  if (!set) {
    set = { version: state.clock, entries: new Map() };
    state.local.set(topic, set);
  }
  set.entries.set(entry.meta.phx_ref, entry);
  set.version = state.clock;
  out.joins.set(entry.meta.phx_ref, entry);
  const owner = entry.owner ?? "";
  const owned = state.owners.get(owner);
  const item = { topic, key: entry.key, ref: entry.meta.phx_ref };
  if (owned) owned.push(item);
  else state.owners.set(owner, [item]);
}

export function removeLocal(state: PresenceState, topic: string, entry: Entry, out: Outgoing): void {
  const ref = entry.meta.phx_ref;
  const set = state.local.get(topic);
  if (!set?.entries.delete(ref)) return;
  set.version = state.clock;
  // Joined and left within one batch: receivers never hear of it (join-then-leave cancels).
  if (!out.joins.delete(ref)) out.leaves.add(ref);
  // An empty set is not kept: the next batch here is `fresh`, which receivers accept without
  // knowing this replica's versions in between.
  if (set.entries.size === 0) state.local.delete(topic);
  const owner = entry.owner ?? "";
  const owned = state.owners.get(owner);
  if (!owned) return;
  const i = owned.findIndex((o) => o.ref === ref);
  if (i === -1) return;
  owned.splice(i, 1);
  if (owned.length === 0) state.owners.delete(owner);
}
