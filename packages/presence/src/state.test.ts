import { describe, expect, it } from "vitest";
import {
  checkDigest,
  createState,
  digest,
  join,
  leave,
  leaveOwner,
  list,
  merge,
  mergeDelta,
  type PresenceState,
  removeReplica,
  replicaDown,
  replicaUp,
  snapshot,
  takeDeltas,
  update,
} from "./state.js";
import { canonical } from "./testing.js";
import type { Delta, PresenceDiff } from "./types.js";

const A = { node: "a", vsn: 1 };
const B = { node: "b", vsn: 1 };
const T = "room:1";

/** Delivers everything `from` has queued to `to`; returns the diffs for T. */
function ship(from: PresenceState, to: PresenceState): Array<PresenceDiff | undefined> {
  return takeDeltas(from).map((d) => mergeDelta(to, d).diffs.get(d.topic));
}

const refOf = (diff: PresenceDiff | null | undefined, half: "joins" | "leaves", key: string) =>
  diff?.[half][key]?.metas[0]?.phx_ref;

describe("local operations (PROTOCOL.md §8 case 36)", () => {
  it("track: a join diff with both halves, and presence_state lists it", () => {
    const s = createState(A);
    const r = join(s, T, "u1", "conn1", { name: "u1" });
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.diff).toEqual({ joins: { u1: { metas: [{ name: "u1", phx_ref: r.ref }] } }, leaves: {} });
    expect(list(s, T)).toEqual({ u1: { metas: [{ name: "u1", phx_ref: r.ref }] } });
    expect(r.ref).toMatch(/^[A-Za-z0-9_-]+$/);
  });

  it("tracking the same (owner, topic, key) twice is refused without a diff", () => {
    const s = createState(A);
    join(s, T, "u1", "conn1", {});
    expect(join(s, T, "u1", "conn1", {})).toMatchObject({ ok: false, reason: "already_tracked" });
    expect(join(s, T, "u1", "conn2", {}).ok).toBe(true); // same user from another socket: two metas
    expect(list(s, T).u1?.metas).toHaveLength(2);
  });

  it("update is one diff: new meta with phx_ref_prev in joins, old meta in leaves", () => {
    const s = createState(A);
    const j = join(s, T, "u1", "conn1", { name: "u1" });
    const u = update(s, T, "u1", "conn1", { name: "updated" });
    if (!j.ok || !u.ok) throw new Error("expected ok");
    expect(u.ref).not.toBe(j.ref);
    expect(u.diff).toEqual({
      joins: { u1: { metas: [{ name: "updated", phx_ref: u.ref, phx_ref_prev: j.ref }] } },
      leaves: { u1: { metas: [{ name: "u1", phx_ref: j.ref }] } },
    });
    // Unchanged meta: still a new ref and a diff, as in Phoenix.
    const again = update(s, T, "u1", "conn1", { name: "updated" });
    expect(again.ok && again.ref !== u.ref).toBe(true);
  });

  it("untrack and update of an absent entry produce no diff", () => {
    const s = createState(A);
    expect(leave(s, T, "nobody").diff).toBeNull();
    expect(update(s, T, "u1", "nobody", {})).toMatchObject({ ok: false, reason: "not_tracked" });
    expect(leaveOwner(s, "nobody").diffs.size).toBe(0);
    expect(takeDeltas(s)).toEqual([]);
  });

  it("untrack removes the owner's entries on the topic; closing a socket leaves one diff per topic", () => {
    const s = createState(A);
    join(s, T, "u1", "c1", {});
    join(s, T, "u1-alt", "c1", {});
    join(s, "room:2", "u1", "c1", {});
    join(s, T, "u2", "c2", {});
    const l = leave(s, T, "c1");
    expect(Object.keys(l.diff?.leaves ?? {}).sort()).toEqual(["u1", "u1-alt"]);
    expect(Object.keys(list(s, T))).toEqual(["u2"]);
    const all = leaveOwner(s, "c2");
    expect([...all.diffs.keys()]).toEqual([T]);
    expect(leaveOwner(s, "c1").diffs.get("room:2")?.joins).toEqual({});
  });

  it("keys such as __proto__ are ordinary keys", () => {
    const s = createState(A);
    join(s, T, "__proto__", "c1", { x: 1 });
    const m = list(s, T);
    expect(Object.keys(m)).toEqual(["__proto__"]);
    expect(JSON.stringify(m)).toMatch(/^\{"__proto__":\{"metas":\[\{"x":1,"phx_ref":/);
  });

  it("refs are unique per meta instance and distinct across replicas", () => {
    const a = createState(A);
    const b = createState({ node: "a", vsn: 2 }); // the same node, rebooted
    const refs = new Set<string>();
    for (let i = 0; i < 500; i++) {
      for (const s of [a, b]) {
        const r = join(s, T, `u${i}`, "c", {});
        if (r.ok) refs.add(r.ref);
        const u = update(s, T, `u${i}`, "c", {});
        if (u.ok) refs.add(u.ref);
      }
    }
    expect(refs.size).toBe(2_000);
  });
});

describe("replication", () => {
  it("deltas carry joins, updates and leaves; receivers emit the same changes", () => {
    const a = createState(A);
    const b = createState(B);
    const j = join(a, T, "u1", "c1", { n: 1 });
    if (!j.ok) throw new Error("join failed");
    const [d1] = ship(a, b);
    expect(refOf(d1, "joins", "u1")).toBe(j.ref);
    const u = update(a, T, "u1", "c1", { n: 2 });
    if (!u.ok) throw new Error("update failed");
    const [d2] = ship(a, b);
    expect([refOf(d2, "joins", "u1"), refOf(d2, "leaves", "u1")]).toEqual([u.ref, j.ref]);
    leave(a, T, "c1");
    const [d3] = ship(a, b);
    expect(d3).toEqual({
      joins: {},
      leaves: { u1: { metas: [{ n: 2, phx_ref: u.ref, phx_ref_prev: j.ref }] } },
    });
    expect(list(b, T)).toEqual({});
  });

  it("a join and leave inside one batch never reaches other nodes", () => {
    const a = createState(A);
    join(a, T, "u1", "c1", {});
    leave(a, T, "c1");
    expect(takeDeltas(a)).toEqual([]);
  });

  it("a lost delta is a gap: later ones wait, a snapshot repairs, nothing is shown twice", () => {
    const a = createState(A);
    const b = createState(B);
    join(a, T, "u1", "c1", {});
    ship(a, b);
    join(a, T, "u2", "c2", {});
    takeDeltas(a); // lost
    join(a, T, "u3", "c3", {});
    const [d3] = takeDeltas(a);
    const r = mergeDelta(b, d3!);
    expect(r.resync).toBe(true);
    expect(r.diffs.size).toBe(0);
    const fix = merge(b, snapshot(a, T));
    expect(fix.resync).toBe(false);
    expect(Object.keys(fix.diffs.get(T)?.joins ?? {}).sort()).toEqual(["u2", "u3"]);
    expect(canonical(list(b, T))).toBe(canonical(list(a, T)));
  });

  it("the missing delta, arriving late, drains the stash", () => {
    const a = createState(A);
    const b = createState(B);
    join(a, T, "u1", "c1", {});
    const [d1] = takeDeltas(a);
    join(a, T, "u2", "c2", {});
    const [d2] = takeDeltas(a);
    expect(mergeDelta(b, d2!).resync).toBe(true);
    const r = mergeDelta(b, d1!);
    expect(r.resync).toBe(false);
    expect(Object.keys(r.diffs.get(T)?.joins ?? {}).sort()).toEqual(["u1", "u2"]);
  });

  it("a stale fresh delta cannot resurrect an entry that left", () => {
    const a = createState(A);
    const b = createState(B);
    join(a, T, "u1", "c1", {});
    const [fresh] = takeDeltas(a);
    leave(a, T, "c1");
    takeDeltas(a);
    merge(b, snapshot(a, T)); // b learns "empty as of now" first
    expect(mergeDelta(b, fresh!).diffs.size).toBe(0);
    expect(list(b, T)).toEqual({});
  });

  it("a fresh delta after a gap waits while the receiver still shows entries that left", () => {
    const a = createState(A);
    const b = createState(B);
    join(a, T, "u1", "c1", {});
    const [d1] = takeDeltas(a);
    leave(a, T, "c1");
    const [d2] = takeDeltas(a);
    join(a, T, "u2", "c2", {});
    const [d3] = takeDeltas(a);
    expect(d3?.fresh).toBe(true);
    mergeDelta(b, d1!);
    expect(mergeDelta(b, d3!).resync).toBe(true); // u1's leave is missing: applying now would keep a ghost
    mergeDelta(b, d2!);
    expect(canonical(list(b, T))).toBe(canonical(list(a, T)));
  });

  it("a digest reveals a lost last delta", () => {
    const a = createState(A);
    const b = createState(B);
    join(a, T, "u1", "c1", {});
    ship(a, b);
    leave(a, T, "c1");
    takeDeltas(a); // lost: b still shows u1
    const dg = { ...A, topic: T, ...digest(a, T) };
    expect(checkDigest(b, dg).resync).toBe(true);
    merge(b, snapshot(a, T));
    expect(list(b, T)).toEqual({});
    expect(checkDigest(b, { ...A, topic: T, ...digest(a, T) }).resync).toBe(false);
  });

  it("replica down: its entries leave, are kept, and come back with the same refs", () => {
    const a = createState(A);
    const b = createState(B);
    const j = join(a, T, "u1", "c1", { x: 1 });
    ship(a, b);
    const down = replicaDown(b, A);
    expect(down.diffs.get(T)).toEqual({
      joins: {},
      leaves: { u1: { metas: [{ x: 1, phx_ref: j.ok && j.ref }] } },
    });
    expect(list(b, T)).toEqual({});
    expect(replicaDown(b, A).diffs.size).toBe(0);
    const up = replicaUp(b, A);
    expect(up.revived).toBe(true);
    expect(refOf(up.diffs.get(T), "joins", "u1")).toBe(j.ok && j.ref);
    expect(replicaUp(b, A).diffs.size).toBe(0);
  });

  it("a restarted node (higher vsn) replaces its old entries; the old boot's messages are ignored", () => {
    const old = createState(A);
    const b = createState(B);
    join(old, T, "u1", "c1", {});
    const late = snapshot(old, T);
    ship(old, b);
    const reboot = createState({ node: "a", vsn: 2 });
    join(reboot, T, "u1", "c9", {});
    const [d] = takeDeltas(reboot);
    const r = mergeDelta(b, d!);
    const diff = r.diffs.get(T);
    expect(refOf(diff, "leaves", "u1")).toBe(late.entries[0]?.[1].phx_ref);
    expect(refOf(diff, "joins", "u1")).toBe(d?.joins[0]?.[1].phx_ref);
    expect(merge(b, { ...late, version: 999 }).diffs.size).toBe(0);
    expect(list(b, T).u1?.metas).toHaveLength(1);
  });

  it("a replica that left is dropped at once and stays dropped", () => {
    const a = createState(A);
    const b = createState(B);
    join(a, T, "u1", "c1", {});
    ship(a, b);
    expect(Object.keys(removeReplica(b, A).diffs.get(T)?.leaves ?? {})).toEqual(["u1"]);
    join(a, T, "u2", "c2", {});
    expect(ship(a, b)).toEqual([undefined]);
    expect(replicaUp(b, A).accepted).toBe(false);
    expect(list(b, T)).toEqual({});
  });

  it("merges for a down replica are applied silently and shown on replicaUp", () => {
    const a = createState(A);
    const b = createState(B);
    join(a, T, "u1", "c1", {});
    ship(a, b);
    replicaDown(b, A);
    leave(a, T, "c1");
    join(a, T, "u2", "c2", {});
    expect(ship(a, b)).toEqual([undefined]);
    const up = replicaUp(b, A).diffs.get(T);
    expect(Object.keys(up?.joins ?? {})).toEqual(["u2"]);
    expect(up?.leaves).toEqual({});
  });

  it("duplicate messages change nothing", () => {
    const a = createState(A);
    const b = createState(B);
    join(a, T, "u1", "c1", {});
    const ds: Delta[] = takeDeltas(a);
    const snap = snapshot(a, T);
    for (const d of ds) mergeDelta(b, d);
    merge(b, snap);
    for (const d of ds) expect(mergeDelta(b, d).diffs.size).toBe(0);
    expect(merge(b, snap).diffs.size).toBe(0);
  });
});
