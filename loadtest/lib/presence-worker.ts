/**
 * @module
 * The `presence` scenario's side of a client worker: observer sockets (one per room and node,
 * joined, keeping a phoenix.js-style view and reporting every ref they see join or leave) and
 * churner sockets (connected once; each joins and leaves its room when the open-loop schedule
 * says so). Every room's observers and churners live in the same worker, so each sighting is
 * matched to its operation here (presence-book.ts) and only histograms and counts go to the
 * runner.
 *
 * This file holds the commands' entry points, the stepping loop and collection; the sockets are
 * in presence-observers.ts and presence-churners.ts, setup and prefill in presence-setup.ts, the
 * final check in presence-verify.ts, and the shared state in presence-state.ts.
 */
import { nowUs } from "./clock.js";
import { dueOps, OpKind, statsToData } from "./presence-book.js";
import { expireRequests, startOp } from "./presence-churners.js";
import { prefill, setup } from "./presence-setup.js";
import { type Cmd, PresenceState, type Send } from "./presence-state.js";
import { verify } from "./presence-verify.js";

export function createPresenceWorker(send: Send) {
  const st = new PresenceState(send);

  setInterval(() => expireRequests(st), 500).unref();

  // Heartbeats every 30 s per socket, spread over the seconds (as client-worker.ts does).
  let hbTick = 0;
  setInterval(() => {
    const { observers, churners } = st;
    const slot = hbTick++ % 30;
    for (let i = slot; i < observers.length; i += 30)
      if (!observers[i]!.phx.closed) observers[i]!.phx.heartbeat();
    for (let i = slot; i < churners.length; i += 30)
      if (!churners[i]!.phx.closed) churners[i]!.phx.heartbeat();
  }, 1_000).unref();

  /** Open loop: whatever is due by the clock is issued, alternating join and leave. */
  function step(m: Cmd<"presence-step">): void {
    const { step: s, rate, startAtUs, durationMs } = m;
    const durationUs = durationMs * 1000;
    const total = Math.round((rate * durationMs) / 1000);
    let issued = 0;
    let lateUs = 0;
    let starved = 0;
    const tick = () => {
      const now = nowUs();
      const due = dueOps(now, startAtUs, rate, durationUs, total);
      if (due - issued > 1 && now > startAtUs) lateUs = Math.max(lateUs, ((due - issued - 1) * 1e6) / rate);
      while (issued < due) {
        const c = st.nextKind === OpKind.Join ? st.idleQ.shift() : st.joinedQ.shift();
        if (!c) {
          // Every churner of the needed kind is busy: the op stays due (and late).
          starved++;
          break;
        }
        if (c.phx.closed || (st.nextKind === OpKind.Join ? c.state !== "idle" : c.state !== "joined"))
          continue;
        startOp(st, c, st.nextKind, s);
        st.nextKind = st.nextKind === OpKind.Join ? OpKind.Leave : OpKind.Join;
        issued++;
      }
      // Bounded: a step whose churners are all stuck gives up 10 s after its window.
      if (issued >= total || now > startAtUs + durationUs + 10_000_000) {
        clearInterval(timer);
        send({ type: "presence-step-sent", step: s, issued, lateUs, starvedTicks: starved });
      }
    };
    const timer = setInterval(tick, 2);
  }

  function collect(m: Cmd<"presence-collect">): void {
    const { book } = st;
    book.sweep(nowUs(), m.timeoutMs * 1000);
    const k = st.countersOf(m.step);
    const { ackHistObj, ...rest } = k;
    const u = process.cpuUsage();
    send({
      type: "presence-collected",
      step: m.step,
      counters: { ...rest, ackHist: ackHistObj.toJSON() },
      stats: statsToData(book.step(m.step)),
      open: book.open + st.outstanding.size,
      orderViolations: book.orderViolations,
      duplicates: book.duplicates,
      records: book.records,
      diffsParsed: st.diffsParsed,
      closedUnexpectedly: st.closedUnexpectedly,
      errorSamples: [...st.errorSamples],
      cpu: { userUs: u.user, systemUs: u.system },
    });
  }

  function closeAll(): number {
    st.closingAll = true;
    const n = st.observers.length + st.churners.length;
    for (const o of st.observers) o.phx.close();
    for (const c of st.churners) c.phx.close();
    st.observers.length = 0;
    st.churners.length = 0;
    st.churnKeys.clear();
    st.idleQ.clear();
    st.joinedQ.clear();
    st.outstanding.clear();
    st.counters.clear();
    st.errorSamples.length = 0;
    st.closedUnexpectedly = 0;
    st.diffsParsed = 0;
    st.closingAll = false;
    return n;
  }

  return {
    setup: (m: Cmd<"presence-setup">) => setup(st, m),
    prefill: (m: Cmd<"presence-prefill">) => prefill(st, m),
    step,
    collect,
    verify: (m: Cmd<"presence-verify">) => verify(st, m),
    closeAll,
  };
}
