/** Tracker basics on one memory hub: replication, diffs, late joiners, watch scope. */
import { describe, expect, it } from "vitest";
import { eventually, turns } from "./testing.js";
import {
  clientView,
  converged,
  HEARTBEAT,
  refs,
  SYNC_TIMEOUT,
  T,
  useTestCluster,
  view,
} from "./tracker-test-cluster.js";

const tc = useTestCluster();
const nodes = (names: string[], topics?: string[]) => tc.nodes(names, topics);

describe("tracker on one memory hub", () => {
  it("joins, updates and leaves reach every node, and each node's client view equals list()", async () => {
    const [a, b, c] = await nodes(["a", "b", "c"]);
    const j = a!.tracker.track(T, "u1", "conn1", { name: "u1" });
    if (!j.ok) throw new Error("track failed");
    expect(a!.diffs.at(-1)).toEqual([
      T,
      { joins: { u1: { metas: [{ name: "u1", phx_ref: j.ref }] } }, leaves: {} },
    ]);
    await eventually(() => converged([a!, b!, c!]) && view(c!, T).includes(j.ref), "join everywhere");
    expect(c!.tracker.list(T)).toEqual({ u1: { metas: [{ name: "u1", phx_ref: j.ref }] } });

    const u = a!.tracker.update(T, "u1", "conn1", { name: "updated" });
    if (!u.ok) throw new Error("update failed");
    await eventually(() => converged([a!, b!, c!]) && view(b!, T).includes(u.ref), "update everywhere");
    const [, remoteUpdate] = b!.diffs.at(-1)!;
    expect(remoteUpdate).toEqual({
      joins: { u1: { metas: [{ name: "updated", phx_ref: u.ref, phx_ref_prev: j.ref }] } },
      leaves: { u1: { metas: [{ name: "u1", phx_ref: j.ref }] } },
    });

    b!.tracker.track(T, "u2", "conn2", {});
    a!.tracker.untrack(T, "conn1");
    await eventually(() => converged([a!, b!, c!]) && Object.keys(refs(c!.tracker.list(T))).join() === "u2");
  });

  it("the origin emits one diff per operation at once; others get one batched diff per turn", async () => {
    const [a, b] = await nodes(["a", "b"]);
    const before = b!.diffs.length;
    for (const k of ["u1", "u2", "u3"]) a!.tracker.track(T, k, `c-${k}`, {});
    a!.tracker.untrack(T, "c-u3"); // joined and left within one batch: never seen remotely
    expect(a!.diffs.slice(-4).map(([, d]) => Object.keys(d.joins).length)).toEqual([1, 1, 1, 0]);
    await eventually(() => converged([a!, b!]));
    expect(b!.diffs.slice(before).map(([, d]) => Object.keys(d.joins).sort())).toEqual([["u1", "u2"]]);
  });

  it("refuses a duplicate track; untrack and update of absent entries emit nothing", async () => {
    const [a] = await nodes(["a"]);
    expect(a!.tracker.track(T, "u1", "c1", {}).ok).toBe(true);
    expect(a!.tracker.track(T, "u1", "c1", {})).toEqual({ ok: false, reason: "already_tracked" });
    const n = a!.diffs.length;
    a!.tracker.untrack(T, "nobody");
    a!.tracker.untrackOwner("nobody");
    expect(a!.tracker.update(T, "u1", "nobody", {})).toEqual({ ok: false, reason: "not_tracked" });
    expect(a!.diffs.length).toBe(n);
  });

  it("closing a socket removes its entries on every topic: one diff per topic", async () => {
    const [a, b] = await nodes(["a", "b"], [T, "room:2"]);
    a!.tracker.track(T, "u1", "sock", {});
    a!.tracker.track("room:2", "u1", "sock", {});
    a!.tracker.track(T, "u2", "other", {});
    await eventually(
      () => converged([a!, b!]) && converged([a!, b!], "room:2") && view(b!, "room:2") !== "[]",
    );
    const n = a!.diffs.length;
    a!.tracker.untrackOwner("sock");
    expect(a!.diffs.slice(n).map(([t]) => t)).toEqual([T, "room:2"]);
    await eventually(() => converged([a!, b!]) && view(b!, "room:2") === "[]");
    expect(Object.keys(b!.tracker.list(T))).toEqual(["u2"]);
  });

  it("a node that starts later lists everyone once watch() resolves, without waiting for timeouts", async () => {
    const [a, b] = await nodes(["a", "b"]);
    a!.tracker.track(T, "ua", "c1", {});
    b!.tracker.track(T, "ub", "c2", {});
    b!.tracker.track("room:other", "ub", "c2", {});
    await eventually(() => converged([a!, b!]) && Object.keys(a!.tracker.list(T)).length === 2);
    await turns(10); // nothing in flight: the late node learns everything from the snapshot exchange
    const late = tc.cluster.add("late");
    const t0 = tc.cluster.clock.now();
    // What the gateway would push as presence_state the moment watch() resolves.
    const atResolve = late.tracker.watch(T).then(() => {
      // A client starts from that presence_state, as a real one does.
      late.client.set(T, late.tracker.list(T));
      return Object.keys(late.tracker.list(T)).sort();
    });
    expect(await tc.cluster.drive(atResolve, 10)).toEqual(["ua", "ub"]);
    expect(tc.cluster.clock.now() - t0).toBeLessThan(SYNC_TIMEOUT);
    // Catching up is not change: no diff, so a first joiner's onJoin fires once per user, from
    // the state, and not again for every remote user (PROTOCOL.md §6.2).
    expect(late.diffs.filter(([t]) => t === T)).toEqual([]);
    expect(late.tracker.list("room:other")).toEqual({}); // not watched: never heard of
    expect(clientView(late, T)).toBe(view(late, T));
  });

  it("unwatch drops the topic's remote entries and stops its diffs", async () => {
    const [a, b] = await nodes(["a", "b"]);
    a!.tracker.track(T, "u1", "c1", {});
    await eventually(() => view(b!, T).includes("u1"));
    b!.tracker.unwatch(T);
    expect(b!.tracker.list(T)).toEqual({});
    const n = b!.diffs.length;
    a!.tracker.track(T, "u2", "c2", {});
    await tc.cluster.elapse(2 * HEARTBEAT);
    expect(b!.diffs.length).toBe(n);
    await tc.cluster.drive(b!.tracker.watch(T), 10);
    expect(Object.keys(b!.tracker.list(T)).sort()).toEqual(["u1", "u2"]);
  });

  it("solo: a standalone node is ready and watches without waiting for peers that cannot exist", async () => {
    const solo = tc.cluster.add("solo", { solo: true });
    const t0 = tc.cluster.clock.now();
    await tc.cluster.drive(Promise.all([solo.tracker.ready(), solo.tracker.watch(T)]), 10);
    expect(tc.cluster.clock.now()).toBe(t0);
    solo.tracker.track(T, "u1", "c1", {});
    expect(Object.keys(solo.tracker.list(T))).toEqual(["u1"]);
  });

  it("malformed presence messages are counted and ignored", async () => {
    const [a, b] = await nodes(["a", "b"]);
    const raw = {
      kind: "presence_delta",
      vsn: 1,
      topic: T,
      from: 0,
      to: 1,
      fresh: true,
      joins: [["u", {}]],
      leaves: [],
    };
    a!.bus.publish(`presence:t:${T}`, raw as never);
    await eventually(() => b!.tracker.stats().invalidMessages === 1);
    expect(b!.tracker.list(T)).toEqual({});
  });
});
