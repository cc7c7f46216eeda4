/**
 * Tracker under faults on one memory hub: silent, stopped and restarted nodes, lost messages,
 * broker outages. Time is a manual clock; messages are lost by a wrapping bus.
 */
import { describe, expect, it } from "vitest";
import { eventually, turns } from "./testing.js";
import { converged, DOWN, HEARTBEAT, refOf, refs, T, useTestCluster, view } from "./tracker-test-cluster.js";

const tc = useTestCluster();
const nodes = (names: string[], topics?: string[]) => tc.nodes(names, topics);

describe("tracker under faults", () => {
  it("a silent node is declared down after the down period; heard again, its entries return with the same refs", async () => {
    const [a, b, c] = await nodes(["a", "b", "c"]);
    const cj = c!.tracker.track(T, "uc", "c9", { on: "c" });
    a!.tracker.track(T, "ua", "c1", {});
    await eventually(
      () => converged([a!, b!, c!]) && view(a!, T).includes("uc") && view(c!, T).includes("ua"),
    );
    c!.bus.drop = () => true; // partitioned both ways
    await tc.cluster.elapse(DOWN - HEARTBEAT);
    expect(Object.keys(a!.tracker.list(T)).sort()).toEqual(["ua", "uc"]);
    await tc.cluster.elapse(2 * HEARTBEAT);
    expect(Object.keys(a!.tracker.list(T))).toEqual(["ua"]);
    expect(a!.diffs.at(-1)).toEqual([
      T,
      { joins: {}, leaves: { uc: { metas: [{ on: "c", phx_ref: cj.ok && cj.ref }] } } },
    ]);
    expect(Object.keys(c!.tracker.list(T))).toEqual(["uc"]); // c saw the others go down too
    expect(a!.tracker.stats()).toMatchObject({ peersUp: 1, peersDown: 1 });

    // Changes made while cut off (and their digests) are lost: the comeback must fetch its sets.
    const cj2 = c!.tracker.track(T, "uc2", "c10", {});
    await tc.cluster.elapse(3 * HEARTBEAT);
    c!.bus.drop = undefined;
    await tc.cluster.elapse(HEARTBEAT);
    await eventually(() => converged([a!, b!, c!]) && view(a!, T).includes("uc2"));
    expect(refs(a!.tracker.list(T))).toEqual({
      ua: [refOf(a!, "ua")],
      uc: [cj.ok && cj.ref],
      uc2: [cj2.ok && cj2.ref],
    });
  });

  it("a graceful stop removes the node's entries everywhere at once", async () => {
    const [a, b, c] = await nodes(["a", "b", "c"]);
    c!.tracker.track(T, "uc", "c9", {});
    await eventually(() => converged([a!, b!, c!]) && view(a!, T).includes("uc"));
    await c!.tracker.close();
    await eventually(() => converged([a!, b!]) && view(a!, T) === "[]", "leaves without any clock movement");
    expect(a!.tracker.peers()).toEqual(["b"]);
  });

  it("a restarted node (same id, new boot) replaces its old entries at once", async () => {
    const [a, c] = await nodes(["a", "c"]);
    const old = c!.tracker.track(T, "u", "s1", {});
    await eventually(() => view(a!, T).includes(old.ok ? old.ref : "?"));
    await c!.tracker.close({ graceful: false }); // a crash: no leaving message
    await c!.bus.close();
    const reborn = tc.cluster.add("c", { vsn: c!.tracker.vsn + 1 });
    await tc.cluster.drive(Promise.all([reborn.tracker.ready(), reborn.tracker.watch(T)]), 10);
    const fresh = reborn.tracker.track(T, "u", "s2", {});
    await eventually(
      () => refs(a!.tracker.list(T)).u?.join() === (fresh.ok && fresh.ref),
      "old ref replaced",
    );
    expect(tc.cluster.clock.now()).toBeLessThan(1_700_000_000_000 + DOWN);
  });

  it("a lost delta is detected by the next one and repaired by a snapshot", async () => {
    const [a, b] = await nodes(["a", "b"]);
    let lost = 0;
    b!.bus.drop = (dir, _t, msg) => dir === "in" && msg.kind === "presence_delta" && lost++ === 0;
    a!.tracker.track(T, "u1", "c1", {});
    await turns(10);
    a!.tracker.track(T, "u2", "c2", {});
    await eventually(() => converged([a!, b!]) && Object.keys(b!.tracker.list(T)).length === 2);
    expect(lost).toBeGreaterThan(1);
    expect(b!.tracker.stats().gapResyncs).toBeGreaterThan(0);
  });

  it("a lost last delta is repaired after the next heartbeat's digest", async () => {
    const [a, b] = await nodes(["a", "b"]);
    a!.tracker.track(T, "u1", "c1", {});
    await eventually(() => converged([a!, b!]) && view(b!, T).includes("u1"));
    b!.bus.drop = (dir, _t, msg) => dir === "in" && msg.kind === "presence_delta";
    a!.tracker.untrack(T, "c1");
    await turns(20);
    expect(view(b!, T)).toContain("u1"); // stale until the digest
    b!.bus.drop = undefined;
    await tc.cluster.elapse(2 * HEARTBEAT);
    await eventually(() => converged([a!, b!]) && view(b!, T) === "[]");
  });

  it("after the broker comes back, every node re-asserts and views re-converge: no ghosts, no duplicates", async () => {
    const all = await nodes(["a", "b", "c"]);
    const [a, b, c] = all;
    a!.tracker.track(T, "ua", "s1", {});
    b!.tracker.track(T, "ub", "s2", {});
    c!.tracker.track(T, "uc", "s3", {});
    await eventually(() => converged(all) && Object.keys(a!.tracker.list(T)).length === 3);
    for (const n of all) n.bus.setReady(false); // Redis restarts: everything in between is lost
    a!.tracker.untrack(T, "s1");
    b!.tracker.update(T, "ub", "s2", { v: 2 });
    c!.tracker.track(T, "uc2", "s4", {});
    await tc.cluster.elapse(HEARTBEAT);
    expect(view(b!, T)).toContain("ua"); // stale while the broker is away
    for (const n of all) n.bus.setReady(true);
    await eventually(() => converged(all), "re-converged");
    expect(refs(a!.tracker.list(T))).toEqual({
      ub: [refOf(b!, "ub")],
      uc: [refOf(c!, "uc")],
      uc2: [refOf(c!, "uc2")],
    });
  });

  it("nodes that come back at different moments still re-converge (whoever is last repairs the others)", async () => {
    const all = await nodes(["a", "b", "c"]);
    const [a, b, c] = all;
    a!.tracker.track(T, "ua", "s1", {});
    await eventually(() => converged(all) && view(c!, T).includes("ua"));
    for (const n of all) n.bus.setReady(false);
    a!.tracker.untrack(T, "s1");
    b!.tracker.track(T, "ub", "s2", {});
    c!.tracker.track(T, "uc", "s3", {});
    a!.bus.setReady(true);
    await turns(20); // a's requests go out while b and c still cannot hear them
    b!.bus.setReady(true);
    await turns(20);
    c!.bus.setReady(true);
    await eventually(() => converged(all), "re-converged without waiting for a heartbeat");
    expect(Object.keys(a!.tracker.list(T)).sort()).toEqual(["ub", "uc"]);
  });

  it("a node whose last entry left during the outage, back last, still clears it everywhere", async () => {
    const all = await nodes(["a", "b", "c"]);
    const [a, b, c] = all;
    a!.tracker.track(T, "ua", "s1", {});
    b!.tracker.track(T, "ub", "s2", {});
    await eventually(() => converged(all) && Object.keys(c!.tracker.list(T)).length === 2);
    for (const n of all) n.bus.setReady(false);
    a!.tracker.untrack(T, "s1");
    await turns(20);
    b!.bus.setReady(true);
    c!.bus.setReady(true);
    await turns(20);
    a!.bus.setReady(true); // its requests are answered, but nobody asked it while it was away
    await eventually(() => converged(all), "re-converged without waiting for a heartbeat");
    expect(Object.keys(c!.tracker.list(T))).toEqual(["ub"]);
  });

  it("an outage longer than the down period: leaves, then joins with the same refs, then convergence", async () => {
    const all = await nodes(["a", "b"]);
    const [a, b] = all;
    a!.tracker.track(T, "ua", "s1", {});
    b!.tracker.track(T, "ub", "s2", {});
    await eventually(() => converged(all) && Object.keys(a!.tracker.list(T)).length === 2);
    for (const n of all) n.bus.setReady(false);
    b!.tracker.track(T, "ub2", "s3", {});
    await tc.cluster.elapse(DOWN + 2 * HEARTBEAT);
    expect(Object.keys(a!.tracker.list(T))).toEqual(["ua"]);
    for (const n of all) n.bus.setReady(true);
    await tc.cluster.elapse(2 * HEARTBEAT);
    await eventually(() => converged(all) && Object.keys(a!.tracker.list(T)).length === 3, "re-converged");
  });

  it("random churn on three nodes with 10% of deltas lost ends with every view equal to the truth", async () => {
    const all = await nodes(["a", "b", "c"], [T, "room:2"]);
    let seed = 42; // mulberry32
    const rand = (n: number) => {
      seed = (seed + 0x6d2b79f5) | 0;
      let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      return Math.floor((((t ^ (t >>> 14)) >>> 0) / 4_294_967_296) * n);
    };
    for (const n of all)
      n.bus.drop = (dir, _t, msg) => dir === "in" && msg.kind === "presence_delta" && rand(10) === 0;
    // Ground truth from the calls' results: "node|topic|owner|key" → ref.
    const truth = new Map<string, string>();
    const dropWhere = (prefix: string, owner: string) => {
      for (const k of [...truth.keys()])
        if (k.startsWith(prefix) && k.split("|")[2] === owner) truth.delete(k);
    };
    for (let i = 0; i < 600; i++) {
      const n = all[rand(3)]!;
      const topic = rand(2) === 0 ? T : "room:2";
      const owner = `s${rand(8)}`;
      const key = `u${rand(5)}`;
      const id = `${n.name}|${topic}|${owner}|${key}`;
      switch (rand(4)) {
        case 0:
        case 1: {
          const r = n.tracker.track(topic, key, owner, { i });
          if (r.ok) truth.set(id, r.ref);
          break;
        }
        case 2: {
          const r = n.tracker.update(topic, key, owner, { i });
          if (r.ok) truth.set(id, r.ref);
          break;
        }
        default:
          if (rand(3) === 0) {
            n.tracker.untrackOwner(owner);
            dropWhere(`${n.name}|`, owner);
          } else {
            n.tracker.untrack(topic, owner);
            dropWhere(`${n.name}|${topic}|`, owner);
          }
      }
      if (rand(5) === 0) await turns(1);
      if (rand(50) === 0) tc.cluster.clock.advance(HEARTBEAT);
    }
    for (const n of all) n.bus.drop = undefined;
    await tc.cluster.elapse(3 * HEARTBEAT);
    await eventually(() => converged(all) && converged(all, "room:2"), "converged");
    for (const topic of [T, "room:2"]) {
      const expected = [...truth].filter(([k]) => k.split("|")[1] === topic).map(([, ref]) => ref);
      expect(expected.length).toBeGreaterThan(5);
      for (const n of all) {
        const metas = Object.values(n.tracker.list(topic)).flatMap((p) => p.metas);
        expect(metas.map((m) => m.phx_ref).sort()).toEqual(expected.sort());
      }
    }
    expect(all.some((n) => n.tracker.stats().gapResyncs > 0)).toBe(true);
  });
});
