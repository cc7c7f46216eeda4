/**
 * @module
 * Before the presence ladder: connect every observer and churner (presence-setup), then fill
 * the rooms with every other churner (presence-prefill), so rooms start half full and stay so.
 */
import { nowUs } from "./clock.js";
import type { PresenceConn } from "./ipc.js";
import { PhxSocket } from "./phx-client.js";
import { ConvergenceBook, OpKind } from "./presence-book.js";
import { addChurner, startOp } from "./presence-churners.js";
import { joinObserver } from "./presence-observers.js";
import type { Cmd, PresenceState } from "./presence-state.js";

export async function setup(st: PresenceState, m: Cmd<"presence-setup">): Promise<void> {
  st.book = new ConvergenceBook(m.nodes);
  const wait = (m.startAtUs - nowUs()) / 1000;
  if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  const errors = new Map<string, number>();
  let failed = 0;
  const one = async (spec: PresenceConn) => {
    for (let tries = 1; ; tries++) {
      let phx: PhxSocket | undefined;
      try {
        phx = await PhxSocket.connect({
          host: "127.0.0.1",
          port: spec.port,
          token: spec.token,
          localAddress: spec.localAddress,
          timeoutMs: m.timeoutMs,
        });
        phx.onClose = st.onClose;
        if (spec.role === "observer") await joinObserver(st, phx, spec, m.timeoutMs);
        else addChurner(st, phx, spec);
        return;
      } catch (e) {
        if (phx) {
          phx.onClose = undefined;
          phx.close();
        }
        const key = `${tries < 3 ? "retried after: " : ""}${(e as Error).message.slice(0, 160)}`;
        errors.set(key, (errors.get(key) ?? 0) + 1);
        if (tries >= 3) {
          failed++;
          return;
        }
        await new Promise((r) => setTimeout(r, 100 * tries));
      }
    }
  };
  // Observers first: every churner's first join must already be watched.
  for (const role of ["observer", "churner"] as const) {
    const list = m.conns.filter((c) => c.role === role);
    let next = 0;
    await Promise.all(
      Array.from({ length: Math.max(1, Math.min(m.concurrency, list.length)) }, async () => {
        while (next < list.length) await one(list[next++]!);
      }),
    );
  }
  for (const c of st.churners) st.churnKeys.add(c.key);
  st.send({
    type: "presence-ready",
    observers: st.observers.length,
    churners: st.churners.length,
    failed,
    errors: [...errors].map(([k, n]) => `${n}× ${k}`),
  });
}

/** Joins every other churner (not measured: step 0), so rooms start half full and stay so. */
export async function prefill(st: PresenceState, m: Cmd<"presence-prefill">): Promise<void> {
  const { churners, idleQ, joinedQ } = st;
  const t0 = nowUs();
  const list = churners.filter((_, i) => i % 2 === 0);
  idleQ.clear();
  joinedQ.clear();
  for (const [i, c] of churners.entries()) if (i % 2 === 1 && c.state === "idle") idleQ.push(c);
  let next = 0;
  let inflight = 0;
  await new Promise<void>((resolve) => {
    const deadline = setTimeout(resolve, m.timeoutMs);
    const pump = () => {
      while (inflight < m.concurrency && next < list.length) {
        const c = list[next++]!;
        inflight++;
        c.onSettled = () => {
          inflight--;
          pump();
        };
        startOp(st, c, OpKind.Join, 0);
      }
      if (inflight === 0 && next >= list.length) {
        clearTimeout(deadline);
        resolve();
      }
    };
    pump();
  });
  st.nextKind = OpKind.Join;
  st.send({
    type: "presence-prefilled",
    joined: churners.filter((c) => c.state === "joined" && c.ref !== undefined).length,
    errors: st.countersOf(0).errors,
    seconds: (nowUs() - t0) / 1e6,
  });
}
