/**
 * @module
 * Building `presence_state` maps and `presence_diff` payloads. Maps have a null prototype so
 * any string is a safe key, and a key is created only together with its first meta, so no
 * `metas` array is ever empty.
 */
import type { Meta, PresenceDiff, PresenceMap, RenderedMeta } from "./types.js";

export function emptyMap(): PresenceMap {
  return Object.create(null) as PresenceMap;
}

export function emptyDiff(): PresenceDiff {
  return { joins: emptyMap(), leaves: emptyMap() };
}

export function addMeta(map: PresenceMap, key: string, meta: RenderedMeta): void {
  const p = map[key];
  if (p) p.metas.push(meta);
  else map[key] = { metas: [meta] };
}

export function isEmptyDiff(diff: PresenceDiff): boolean {
  for (const _ in diff.joins) return false;
  for (const _ in diff.leaves) return false;
  return true;
}

/**
 * The meta clients see; built once per meta instance and shared by every list and diff, so it
 * lives as long as the presence: one per joined socket. Not `{ ...meta, phx_ref }`: in
 * optimized code V8 (Node 20) gives every object a spread makes a hidden class of its own, about
 * 150 bytes more per presence, and puts phx_ref out of line. Copied into `{}`, metas share one
 * class and up to four properties stay in the object. (Object.assign would set the prototype for
 * a `__proto__` key rather than copy it: such a meta takes the spread.)
 */
export function render(meta: Meta, ref: string, prev?: string): RenderedMeta {
  const m = (Object.hasOwn(meta, "__proto__") ? { ...meta } : Object.assign({}, meta)) as RenderedMeta;
  m.phx_ref = ref;
  if (prev === undefined) delete m.phx_ref_prev;
  else m.phx_ref_prev = prev;
  return m;
}

/**
 * Diffs of one state change, one per topic. A change that touches a topic several times (a
 * replica going down, stashed deltas drained) still yields one diff for it, as Phoenix does per
 * `handle_diff`. A leave of a ref joined earlier in the same diff cancels that join (§6.4 rule
 * 7); the opposite order cannot occur, since refs are never reused.
 */
export class DiffSet {
  private readonly diffs = new Map<string, { diff: PresenceDiff; joined: Map<string, string> }>();

  private of(topic: string) {
    let d = this.diffs.get(topic);
    if (!d) {
      d = { diff: emptyDiff(), joined: new Map() };
      this.diffs.set(topic, d);
    }
    return d;
  }

  join(topic: string, key: string, meta: RenderedMeta): void {
    const d = this.of(topic);
    addMeta(d.diff.joins, key, meta);
    d.joined.set(meta.phx_ref, key);
  }

  leave(topic: string, key: string, meta: RenderedMeta): void {
    const d = this.of(topic);
    const joinedKey = d.joined.get(meta.phx_ref);
    if (joinedKey === undefined) {
      addMeta(d.diff.leaves, key, meta);
      return;
    }
    d.joined.delete(meta.phx_ref);
    const p = d.diff.joins[joinedKey];
    if (!p) return;
    p.metas = p.metas.filter((m) => m.phx_ref !== meta.phx_ref);
    if (p.metas.length === 0) delete d.diff.joins[joinedKey];
  }

  /** The non-empty diffs by topic, in the order topics were first touched. */
  result(): Map<string, PresenceDiff> {
    const out = new Map<string, PresenceDiff>();
    for (const [topic, { diff }] of this.diffs) if (!isEmptyDiff(diff)) out.set(topic, diff);
    return out;
  }
}
