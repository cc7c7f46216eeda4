/**
 * @module
 * The bookkeeping of the `presence` scenario, without sockets (so it is unit-tested): which
 * churn operation each observer sighting belongs to, how long each took to reach every node,
 * and what each observer's view is.
 *
 * An operation is one churner's join or leave of its room. A join is identified by the phx_ref
 * its presence got (the churner reads it from the diff its own node sends it); a leave by the
 * ref it removes. Observers (one per room on each node) report every ref they see joining or
 * leaving, with the time. Sightings may arrive before the operation is known (another socket of
 * the same process can be read first), so both sides meet in a record per ref.
 *
 * Convergence of an operation = max over nodes of (first sighting on that node − ack), where
 * ack is when the churner got its join or leave reply. An operation not seen on every node
 * within the timeout is missing.
 */
import { Histogram, type HistogramData } from "./histogram.js";

export const OpKind = { Join: 0, Leave: 1 } as const;
export type OpKind = (typeof OpKind)[keyof typeof OpKind];

export interface Op {
  kind: OpKind;
  step: number;
  /** The churner's node (index): sightings there are local, the others remote. */
  origin: number;
  sentUs: number;
  ackUs: number;
  ref: string | undefined;
  /** First sighting per node (monotonic µs), 0 = not yet. */
  seen: Float64Array;
  resolved: boolean;
}

interface RefRecord {
  join: Op | undefined;
  leave: Op | undefined;
  joinSeen: Float64Array;
  leaveSeen: Float64Array;
}

export interface StepStats {
  /** Operations resolved: seen on every node, or timed out. */
  converged: number;
  missing: number;
  /** Of the missing: sightings absent per node relation (an op may miss both). */
  missingLocal: number;
  missingRemote: number;
  /** Joins whose own diff never reached the churner (so the ref, and the op, stayed unknown). */
  refUnknown: number;
  /** Ack → seen on every node. */
  hist: Histogram;
  /** Ack → seen on the churner's node / on each other node. */
  local: Histogram;
  remote: Histogram;
  /** Request sent → seen on every node (includes the join/leave itself). */
  fromSend: Histogram;
  /** Last time an op of this step converged (monotonic µs). */
  lastConvergedUs: number;
}

export interface StepStatsData extends Omit<StepStats, "hist" | "local" | "remote" | "fromSend"> {
  hist: HistogramData;
  local: HistogramData;
  remote: HistogramData;
  fromSend: HistogramData;
}

const newStats = (): StepStats => ({
  converged: 0,
  missing: 0,
  missingLocal: 0,
  missingRemote: 0,
  refUnknown: 0,
  hist: new Histogram(),
  local: new Histogram(),
  remote: new Histogram(),
  fromSend: new Histogram(),
  lastConvergedUs: 0,
});

export function statsToData(s: StepStats): StepStatsData {
  return {
    ...s,
    hist: s.hist.toJSON(),
    local: s.local.toJSON(),
    remote: s.remote.toJSON(),
    fromSend: s.fromSend.toJSON(),
  };
}

export function mergeStats(into: StepStats, d: StepStatsData): void {
  into.converged += d.converged;
  into.missing += d.missing;
  into.missingLocal += d.missingLocal;
  into.missingRemote += d.missingRemote;
  into.refUnknown += d.refUnknown;
  into.hist.merge(d.hist);
  into.local.merge(d.local);
  into.remote.merge(d.remote);
  into.fromSend.merge(d.fromSend);
  into.lastConvergedUs = Math.max(into.lastConvergedUs, d.lastConvergedUs);
}

export function emptyStats(): StepStats {
  return newStats();
}

export class ConvergenceBook {
  readonly #refs = new Map<string, RefRecord>();
  readonly #open = new Set<Op>();
  readonly #steps = new Map<number, StepStats>();
  /** A leave seen on a node before the join it undoes (PROTOCOL.md §6.4 rule 5). */
  orderViolations = 0;
  /** The same join or leave seen twice on one node (harmless, §6.4 rule 3; counted). */
  duplicates = 0;

  constructor(readonly nodes: number) {}

  #record(ref: string): RefRecord {
    let r = this.#refs.get(ref);
    if (!r) {
      r = {
        join: undefined,
        leave: undefined,
        joinSeen: new Float64Array(this.nodes),
        leaveSeen: new Float64Array(this.nodes),
      };
      this.#refs.set(ref, r);
    }
    return r;
  }

  #stats(step: number): StepStats {
    let s = this.#steps.get(step);
    if (!s) {
      s = newStats();
      this.#steps.set(step, s);
    }
    return s;
  }

  /** An observer on `node` saw `ref` join (`OpKind.Join`) or leave at `atUs`. */
  sighted(kind: OpKind, ref: string, node: number, atUs: number): void {
    const r = this.#record(ref);
    const seen = kind === OpKind.Join ? r.joinSeen : r.leaveSeen;
    if (seen[node]! > 0) {
      this.duplicates++;
      return;
    }
    if (kind === OpKind.Leave && r.joinSeen[node] === 0) this.orderViolations++;
    seen[node] = atUs;
    const op = kind === OpKind.Join ? r.join : r.leave;
    if (op && !op.resolved) {
      op.seen[node] = atUs;
      this.#tryResolve(op);
    }
    this.#prune(ref, r);
  }

  /** A join was acked; its ref comes later (`bind`). Returns the op to bind. */
  joined(step: number, origin: number, sentUs: number, ackUs: number): Op {
    const op: Op = {
      kind: OpKind.Join,
      step,
      origin,
      sentUs,
      ackUs,
      ref: undefined,
      seen: new Float64Array(this.nodes),
      resolved: false,
    };
    this.#open.add(op);
    return op;
  }

  /** The churner learned the ref its join got. */
  bind(op: Op, ref: string): void {
    op.ref = ref;
    const r = this.#record(ref);
    r.join = op;
    if (!op.resolved) {
      op.seen.set(r.joinSeen);
      this.#tryResolve(op);
    }
    this.#prune(ref, r);
  }

  /** A leave of `ref` was acked. */
  left(step: number, origin: number, ref: string, sentUs: number, ackUs: number): Op {
    const r = this.#record(ref);
    const op: Op = {
      kind: OpKind.Leave,
      step,
      origin,
      sentUs,
      ackUs,
      ref,
      seen: Float64Array.from(r.leaveSeen),
      resolved: false,
    };
    r.leave = op;
    this.#open.add(op);
    this.#tryResolve(op);
    this.#prune(ref, r);
    return op;
  }

  #tryResolve(op: Op): void {
    if (op.ref === undefined) return;
    let last = 0;
    for (let n = 0; n < this.nodes; n++) {
      const t = op.seen[n]!;
      if (t === 0) return;
      if (t > last) last = t;
    }
    op.resolved = true;
    this.#open.delete(op);
    const s = this.#stats(op.step);
    s.converged++;
    s.hist.record(last - op.ackUs);
    s.fromSend.record(last - op.sentUs);
    for (let n = 0; n < this.nodes; n++)
      (n === op.origin ? s.local : s.remote).record(op.seen[n]! - op.ackUs);
    if (last > s.lastConvergedUs) s.lastConvergedUs = last;
  }

  /** A record is done once its leave resolved and nothing more is expected of it. */
  #prune(ref: string, r: RefRecord): void {
    if (r.leave?.resolved && (r.join === undefined || r.join.resolved)) this.#refs.delete(ref);
  }

  /** Ops acked more than `timeoutUs` ago and not seen everywhere become missing. */
  sweep(nowUs: number, timeoutUs: number): void {
    for (const op of this.#open) {
      if (nowUs - op.ackUs <= timeoutUs) continue;
      op.resolved = true;
      this.#open.delete(op);
      const s = this.#stats(op.step);
      s.missing++;
      if (op.ref === undefined) {
        s.refUnknown++;
        continue;
      }
      let local = false;
      let remote = false;
      for (let n = 0; n < this.nodes; n++) {
        if (op.seen[n] !== 0) continue;
        if (n === op.origin) local = true;
        else remote = true;
      }
      if (local) s.missingLocal++;
      if (remote) s.missingRemote++;
      const r = this.#refs.get(op.ref);
      if (r) this.#prune(op.ref, r);
    }
  }

  /** Acked ops not yet resolved. */
  get open(): number {
    return this.#open.size;
  }

  /** Ref records held (memory check). */
  get records(): number {
    return this.#refs.size;
  }

  step(step: number): StepStats {
    return this.#stats(step);
  }
}

// ---------------------------------------------------------------------------------------------
// Observer views

/** key → refs, as phoenix.js Presence holds it (by phx_ref; key deleted with its last meta). */
export type View = Map<string, Set<string>>;

type Metas = { metas?: Array<{ phx_ref?: unknown }> };
export type WirePresenceMap = Record<string, Metas>;

function refsOf(p: Metas | undefined): string[] {
  const out: string[] = [];
  for (const m of p?.metas ?? []) if (typeof m.phx_ref === "string") out.push(m.phx_ref);
  return out;
}

export function viewFromState(state: WirePresenceMap): View {
  const v: View = new Map();
  for (const [key, p] of Object.entries(state)) {
    const refs = refsOf(p);
    if (refs.length > 0) v.set(key, new Set(refs));
  }
  return v;
}

/** syncDiff: all joins, then all leaves (PROTOCOL.md §6.2). Calls `each` per (kind, key, ref). */
export function applyDiff(
  view: View,
  diff: { joins?: WirePresenceMap; leaves?: WirePresenceMap },
  each?: (kind: OpKind, key: string, ref: string) => void,
): void {
  for (const [key, p] of Object.entries(diff.joins ?? {})) {
    let refs = view.get(key);
    for (const ref of refsOf(p)) {
      if (!refs) {
        refs = new Set();
        view.set(key, refs);
      }
      refs.add(ref);
      each?.(OpKind.Join, key, ref);
    }
  }
  for (const [key, p] of Object.entries(diff.leaves ?? {})) {
    const refs = view.get(key);
    for (const ref of refsOf(p)) {
      refs?.delete(ref);
      each?.(OpKind.Leave, key, ref);
    }
    if (refs && refs.size === 0) view.delete(key);
  }
}

export interface ViewCheck {
  /** Keys the truth has and the view lacks. */
  missingKeys: number;
  /** Keys the view has and the truth lacks. */
  extraKeys: number;
  /** Keys present in both whose refs differ (the truth's ref absent, or more than one meta). */
  wrongRefs: number;
  /** A few examples, for the report. */
  samples: string[];
}

/**
 * Compares a view with the truth: key → its one expected ref, or null when any single ref will
 * do (an observer's own presence: its ref is not tracked). With `only`, keys outside it are not
 * compared (a snapshot check that ignores observers).
 */
export function checkView(view: View, truth: Map<string, string | null>, only?: Set<string>): ViewCheck {
  const out: ViewCheck = { missingKeys: 0, extraKeys: 0, wrongRefs: 0, samples: [] };
  const note = (s: string) => {
    if (out.samples.length < 3) out.samples.push(s);
  };
  for (const [key, ref] of truth) {
    if (only && !only.has(key)) continue;
    const refs = view.get(key);
    if (!refs) {
      out.missingKeys++;
      note(`missing ${key}`);
    } else if (refs.size !== 1 || (ref !== null && !refs.has(ref))) {
      out.wrongRefs++;
      note(`${key}: refs ${[...refs].join(",")} expected ${ref ?? "one"}`);
    }
  }
  for (const key of view.keys()) {
    if (only && !only.has(key)) continue;
    if (!truth.has(key)) {
      out.extraKeys++;
      note(`extra ${key}`);
    }
  }
  return out;
}

/**
 * The ref of `key`'s newest join in a `presence_diff` broadcast frame (raw bytes), other than
 * `previous`; undefined when the frame is not a presence_diff joining `key`. The key bytes are
 * searched first, so frames about other users are never parsed.
 */
export function ownJoinRef(
  data: Buffer,
  keyNeedle: Buffer,
  previous: string | undefined,
): string | undefined {
  if (data.indexOf(keyNeedle) < 0 || data.indexOf(PRESENCE_DIFF) < 0) return undefined;
  let frame: unknown;
  try {
    frame = JSON.parse(data.toString("utf8"));
  } catch {
    return undefined;
  }
  if (!Array.isArray(frame) || frame[3] !== "presence_diff") return undefined;
  const key = keyNeedle.toString("utf8").slice(1, -1);
  const joins = (frame[4] as { joins?: WirePresenceMap } | undefined)?.joins;
  const refs = refsOf(joins?.[key]);
  for (let i = refs.length - 1; i >= 0; i--) if (refs[i] !== previous) return refs[i];
  return undefined;
}

export const PRESENCE_DIFF = Buffer.from('"presence_diff"');
export const PRESENCE_STATE = Buffer.from('"presence_state"');

/** The needle `ownJoinRef` searches for: the key as a JSON string. */
export const keyNeedle = (key: string) => Buffer.from(JSON.stringify(key));

// ---------------------------------------------------------------------------------------------
// Open-loop pacing

/** Ops due by `nowUs` in a window [startUs, startUs + durationUs) at `rate`/s, capped at `total`. */
export function dueOps(
  nowUs: number,
  startUs: number,
  rate: number,
  durationUs: number,
  total: number,
): number {
  if (nowUs < startUs) return 0;
  if (nowUs >= startUs + durationUs) return total;
  return Math.min(total, Math.floor(((nowUs - startUs) * rate) / 1e6));
}
