/**
 * Property tests of the presence CRDT: writers run random operations, receivers get the
 * resulting deltas and snapshots in random orders, with losses and duplicates.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  createState,
  join,
  leave,
  leaveOwner,
  list,
  merge,
  mergeSnapshot,
  type PresenceState,
  replicaDown,
  replicaEntries,
  snapshot,
  takeDeltas,
  update,
} from "./state.js";
import { canonical, clientApply, diffProblems } from "./testing.js";
import type { Delta, PresenceDiff, PresenceMap, Snapshot } from "./types.js";

// Small spaces, so that operations on one writer's set of one topic interleave with flushes and
// snapshots often (mutants of the merge rules must die within the default number of runs).
const WRITERS = 2;
const TOPICS = ["t0", "t1"];
const w = fc.nat(WRITERS - 1);
const topic = fc.constantFrom(...TOPICS);
const key = fc.constantFrom("k0", "k1");
const owner = fc.constantFrom("o0", "o1");
const cmd = fc.oneof(
  { weight: 3, arbitrary: fc.record({ op: fc.constant("join" as const), w, topic, key, owner }) },
  { weight: 3, arbitrary: fc.record({ op: fc.constant("leave" as const), w, topic, owner }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("leaveOwner" as const), w, owner }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant("update" as const), w, topic, key, owner }) },
  { weight: 4, arbitrary: fc.record({ op: fc.constant("flush" as const), w }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant("snap" as const), w, topic }) },
);
type Cmd = typeof cmd extends fc.Arbitrary<infer C> ? C : never;
type Msg = Delta | Snapshot;

interface Run {
  writers: PresenceState[];
  deltas: Delta[];
  /** Snapshots taken mid-run. */
  snaps: Snapshot[];
  /** One per writer and topic, after everything. */
  finals: Snapshot[];
  refs: string[];
  localDiffs: PresenceDiff[];
  updateDiffs: PresenceDiff[];
}

function run(cmds: Cmd[]): Run {
  const writers = Array.from({ length: WRITERS }, (_, i) => createState({ node: `w${i}`, vsn: 7 }));
  const r: Run = { writers, deltas: [], snaps: [], finals: [], refs: [], localDiffs: [], updateDiffs: [] };
  for (const c of cmds) {
    const s = writers[c.w]!;
    switch (c.op) {
      case "join": {
        const j = join(s, c.topic, c.key, c.owner, { by: c.owner });
        if (j.ok) {
          r.refs.push(j.ref);
          r.localDiffs.push(j.diff);
        }
        break;
      }
      case "leave": {
        const l = leave(s, c.topic, c.owner).diff;
        if (l) r.localDiffs.push(l);
        break;
      }
      case "leaveOwner":
        r.localDiffs.push(...leaveOwner(s, c.owner).diffs.values());
        break;
      case "update": {
        const u = update(s, c.topic, c.key, c.owner, { by: c.owner, v: r.refs.length });
        if (u.ok) {
          r.refs.push(u.ref);
          r.localDiffs.push(u.diff);
          r.updateDiffs.push(u.diff);
        }
        break;
      }
      case "flush":
        r.deltas.push(...takeDeltas(s));
        break;
      case "snap":
        r.snaps.push(snapshot(s, c.topic));
        break;
    }
  }
  for (const s of writers) r.deltas.push(...takeDeltas(s));
  for (const s of writers) for (const t of TOPICS) r.finals.push(snapshot(s, t));
  return r;
}

const truth = (r: Run, t: string, except?: string) => {
  const merged: PresenceMap = Object.create(null);
  for (const s of r.writers) {
    if (s.self.node === except) continue;
    for (const [k, p] of Object.entries(list(s, t)))
      merged[k] = { metas: [...(merged[k]?.metas ?? []), ...p.metas] };
  }
  return canonical(merged);
};

/** Delivers `msgs` to a fresh receiver, checking every diff against a phoenix.js client model. */
function deliver(msgs: Msg[]) {
  const rx = createState({ node: "rx", vsn: 1 });
  const clients = new Map<string, PresenceMap>(TOPICS.map((t) => [t, Object.create(null)]));
  for (const m of msgs) {
    for (const [t, diff] of merge(rx, m).diffs) {
      expect(diffProblems(diff)).toEqual([]);
      clients.set(t, clientApply(clients.get(t)!, diff));
      expect(canonical(clients.get(t)!)).toBe(canonical(list(rx, t)));
    }
  }
  return rx;
}

/** An arbitrary order of `items` with some of them repeated. */
const shuffledWithDups = <T>(items: T[]) =>
  fc
    .tuple(
      fc.shuffledSubarray(items, { minLength: items.length, maxLength: items.length }),
      fc.array(fc.nat(), { maxLength: 5 }),
    )
    .chain(([order, dupIdx]) => {
      const dups = items.length === 0 ? [] : dupIdx.map((i) => items[i % items.length]!);
      return fc.shuffledSubarray([...order, ...dups], { minLength: order.length + dups.length });
    });

/** Exports every replica set a state holds as snapshots, to merge states with each other. */
function sets(s: PresenceState): Snapshot[] {
  const out: Snapshot[] = [];
  for (const [t, byNode] of s.remote) {
    for (const [node, set] of byNode) {
      const info = s.replicas.get(node)!;
      const vsn = info.vsn;
      const entries = [...replicaEntries(info, set)].map((e): [string, (typeof e)["meta"]] => [
        e.key,
        e.meta,
      ]);
      out.push({ kind: "snapshot", node, vsn, topic: t, version: set.version, entries });
    }
  }
  return out;
}
const absorb = (into: PresenceState, from: PresenceState) => {
  const diffs = sets(from).map((sn) => mergeSnapshot(into, sn).diffs);
  return diffs.filter((d) => d.size > 0).length;
};
const view = (s: PresenceState) => TOPICS.map((t) => canonical(list(s, t))).join("|");

const cmds = fc.array(cmd, { minLength: 1, maxLength: 80, size: "max" });
const params = { numRuns: 500 };

describe("presence CRDT properties", () => {
  it("every delta, in any order, with duplicates and stale snapshots, converges to the writers' state", () => {
    fc.assert(
      fc.property(
        cmds.chain((c) => {
          const r = run(c);
          return fc
            .tuple(fc.constant(r), fc.subarray(r.snaps), fc.constant(null))
            .chain(([r2, snaps]) =>
              fc.tuple(fc.constant(r2), shuffledWithDups<Msg>([...r2.deltas, ...snaps])),
            );
        }),
        ([r, order]) => {
          const rx = deliver(order);
          for (const t of TOPICS) expect(canonical(list(rx, t))).toBe(truth(r, t));
          for (const byNode of rx.remote.values())
            for (const set of byNode.values()) expect(set.stash).toBeUndefined();
        },
      ),
      params,
    );
  });

  it("with lost deltas, the final snapshots repair any delivery order", () => {
    fc.assert(
      fc.property(
        cmds.chain((c) => {
          const r = run(c);
          return fc
            .tuple(fc.subarray(r.deltas), fc.subarray(r.snaps))
            .chain(([ds, ss]) =>
              fc.tuple(fc.constant(r), shuffledWithDups<Msg>([...ds, ...ss, ...r.finals])),
            );
        }),
        ([r, order]) => {
          const rx = deliver(order);
          for (const t of TOPICS) expect(canonical(list(rx, t))).toBe(truth(r, t));
        },
      ),
      params,
    );
  });

  it("snapshot merge is commutative, associative and idempotent", () => {
    fc.assert(
      fc.property(
        cmds.chain((c) => {
          const r = run(c);
          const all = [...r.snaps, ...r.finals];
          return fc.tuple(fc.subarray(all), fc.subarray(all), fc.subarray(all));
        }),
        ([g1, g2, g3]) => {
          const [x, y, z] = [g1, g2, g3].map((g) => deliver(g));
          const fresh = () => createState({ node: "m", vsn: 1 });
          const xy = fresh();
          absorb(xy, x!);
          absorb(xy, y!);
          const yx = fresh();
          absorb(yx, y!);
          absorb(yx, x!);
          expect(view(xy)).toBe(view(yx));
          const left = fresh(); // (x ⊔ y) ⊔ z
          absorb(left, xy);
          absorb(left, z!);
          const yz = fresh();
          absorb(yz, y!);
          absorb(yz, z!);
          const right = fresh(); // x ⊔ (y ⊔ z)
          absorb(right, x!);
          absorb(right, yz);
          expect(view(left)).toBe(view(right));
          expect(absorb(left, left)).toBe(0);
          expect(absorb(left, right)).toBe(0);
        },
      ),
      params,
    );
  });

  it("a replica going down removes exactly its entries, with one leave per entry", () => {
    fc.assert(
      fc.property(cmds, w, (c, down) => {
        const r = run(c);
        const rx = deliver(r.finals);
        const node = `w${down}`;
        const { diffs } = replicaDown(rx, { node, vsn: 7 });
        for (const t of TOPICS) {
          expect(canonical(list(rx, t))).toBe(truth(r, t, node));
          const own = list(r.writers[down]!, t);
          expect(canonical(diffs.get(t)?.leaves ?? Object.create(null))).toBe(canonical(own));
          expect(diffs.get(t)?.joins ?? {}).toEqual({});
        }
      }),
      params,
    );
  });

  it("refs are unique; local diffs are well formed; an update is one diff naming its predecessor", () => {
    fc.assert(
      fc.property(cmds, (c) => {
        const r = run(c);
        expect(new Set(r.refs).size).toBe(r.refs.length);
        for (const d of r.localDiffs) expect(diffProblems(d)).toEqual([]);
        for (const d of r.updateDiffs) {
          const joins = Object.values(d.joins).flatMap((p) => p.metas);
          const leaves = Object.values(d.leaves).flatMap((p) => p.metas);
          expect(joins).toHaveLength(1);
          expect(leaves).toHaveLength(1);
          expect(joins[0]?.phx_ref_prev).toBe(leaves[0]?.phx_ref);
          expect(Object.keys(d.joins)).toEqual(Object.keys(d.leaves));
        }
      }),
      params,
    );
  });

  it("re-delivering anything already delivered produces no diff", () => {
    fc.assert(
      fc.property(cmds, (c) => {
        const r = run(c);
        const msgs: Msg[] = [...r.deltas, ...r.snaps, ...r.finals];
        const rx = deliver(msgs);
        for (const m of msgs) expect(merge(rx, m).diffs.size).toBe(0);
      }),
      params,
    );
  });
});
