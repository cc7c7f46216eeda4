/**
 * @module
 * The presence scenario's final check (presence-verify): every observer's view against the
 * truth, then a fresh presence_state per observer against the churners' truth.
 */
import type { PresenceVerifyResult } from "./ipc.js";
import { checkView, type ViewCheck, viewFromState, type WirePresenceMap } from "./presence-book.js";
import type { Cmd, PresenceState } from "./presence-state.js";

/**
 * Every observer's view against the truth (the observers and the churners joined now), then
 * a fresh presence_state per observer (leave + rejoin) against the churners' truth.
 */
export async function verify(st: PresenceState, m: Cmd<"presence-verify">): Promise<void> {
  const { observers, churners } = st;
  const truth = new Map<number, Map<string, string | null>>();
  const compared = new Map<number, Set<string>>();
  const churnTruth = new Map<number, Set<string>>();
  const of = <T>(map: Map<number, T>, room: number, make: () => T) => {
    let v = map.get(room);
    if (!v) {
      v = make();
      map.set(room, v);
    }
    return v;
  };
  let unsettled = 0;
  let refUnknown = 0;
  for (const o of observers) {
    of(truth, o.room, () => new Map()).set(o.key, null);
    of(compared, o.room, () => new Set()).add(o.key);
  }
  for (const c of churners) {
    const t = of(truth, c.room, () => new Map());
    const keys = of(compared, c.room, () => new Set());
    const ck = of(churnTruth, c.room, () => new Set());
    if (c.state === "joining" || c.state === "leaving" || c.state === "broken") {
      unsettled++;
      continue;
    }
    keys.add(c.key);
    ck.add(c.key);
    if (c.state === "joined") {
      if (c.ref === undefined) refUnknown++;
      t.set(c.key, c.ref ?? null);
    }
  }
  const sum = (into: PresenceVerifyResult["live"], r: ViewCheck) => {
    into.observers++;
    if (r.missingKeys + r.extraKeys + r.wrongRefs > 0) into.mismatched++;
    into.missingKeys += r.missingKeys;
    into.extraKeys += r.extraKeys;
    into.wrongRefs += r.wrongRefs;
    for (const s of r.samples) if (into.samples.length < 5) into.samples.push(s);
  };
  const blank = () => ({
    observers: 0,
    mismatched: 0,
    missingKeys: 0,
    extraKeys: 0,
    wrongRefs: 0,
    samples: [],
  });
  const live: PresenceVerifyResult["live"] = blank();
  for (const o of observers) sum(live, checkView(o.view, truth.get(o.room)!, compared.get(o.room)));
  const orderViolations = st.book.orderViolations;
  const duplicates = st.book.duplicates;

  // Fresh snapshots. Observers' own keys change as they rejoin, so only churners are compared.
  const snapshot: PresenceVerifyResult["snapshot"] = blank();
  let snapshotErrors = 0;
  await Promise.all(
    observers.map(async (o) => {
      try {
        const left = await o.phx.request(o.topic, "phx_leave", {}, null, m.timeoutMs);
        if (left.status !== "ok") throw new Error(`leave ${left.status}`);
        const state = new Promise<WirePresenceMap>((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error("no presence_state")), m.timeoutMs);
          o.onState = (s) => {
            clearTimeout(timer);
            resolve(s);
          };
        });
        const joined = await o.phx.join(o.topic, {}, m.timeoutMs);
        if (joined.status !== "ok") throw new Error(`rejoin ${joined.status}`);
        const fresh = viewFromState(await state);
        o.view = fresh;
        sum(snapshot, checkView(fresh, truth.get(o.room)!, churnTruth.get(o.room)));
      } catch (e) {
        o.onState = undefined;
        snapshotErrors++;
        if (snapshot.samples.length < 5) snapshot.samples.push((e as Error).message);
      }
    }),
  );
  st.send({
    type: "presence-verified",
    result: {
      live,
      snapshot,
      snapshotErrors,
      unsettledChurners: unsettled,
      joinedChurners: churners.filter((c) => c.state === "joined").length,
      refUnknown,
      orderViolations,
      duplicates,
    },
  });
}
