/**
 * @module
 * The `presence` scenario's side of a client worker: observer sockets (one per room and node,
 * joined, keeping a phoenix.js-style view and reporting every ref they see join or leave) and
 * churner sockets (connected once; each joins and leaves its room when the open-loop schedule
 * says so). Every room's observers and churners live in the same worker, so each sighting is
 * matched to its operation here (presence-book.ts) and only histograms and counts go to the
 * runner.
 */
import { classify, FrameKind } from "./bench-frames.js";
import { nowUs } from "./clock.js";
import { Histogram } from "./histogram.js";
import type {
  FromWorker,
  PresenceConn,
  PresenceStepCounters,
  PresenceVerifyResult,
  ToWorker,
} from "./ipc.js";
import { PhxSocket } from "./phx-client.js";
import {
  applyDiff,
  ConvergenceBook,
  checkView,
  dueOps,
  keyNeedle,
  type Op,
  OpKind,
  ownJoinRef,
  PRESENCE_DIFF,
  PRESENCE_STATE,
  statsToData,
  type View,
  type ViewCheck,
  viewFromState,
  type WirePresenceMap,
} from "./presence-book.js";

type Send = (m: FromWorker) => void;
type Cmd<T extends ToWorker["type"]> = Extract<ToWorker, { type: T }>;

interface Observer {
  phx: PhxSocket;
  topic: string;
  room: number;
  node: number;
  key: string;
  view: View;
  stateSeen: boolean;
  /** Diffs that arrived before the first presence_state (phoenix.js holds them too). */
  buffered: unknown[];
  /** Resolved by the next presence_state (the snapshot check rejoins and waits for it). */
  onState: ((state: WirePresenceMap) => void) | undefined;
}

type ChurnState = "idle" | "joining" | "joined" | "leaving" | "broken";

interface Outstanding {
  ref: string;
  kind: OpKind;
  step: number;
  sentUs: number;
}

interface Churner {
  phx: PhxSocket;
  key: string;
  needle: Buffer;
  topic: string;
  room: number;
  node: number;
  state: ChurnState;
  joinRef: string;
  /** The phx_ref of the current presence, once the churner's own diff showed it. */
  ref: string | undefined;
  prevRef: string | undefined;
  /** The acked join waiting for its ref. */
  awaiting: Op | undefined;
  out: Outstanding | undefined;
  /** Prefill: called once the join settled (ref known, or failed). */
  onSettled: (() => void) | undefined;
}

/** A FIFO without Array.shift's O(n). */
class Queue<T> {
  #items: T[] = [];
  #head = 0;
  push(v: T): void {
    this.#items.push(v);
  }
  shift(): T | undefined {
    if (this.#head >= this.#items.length) return undefined;
    const v = this.#items[this.#head++];
    if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
    return v;
  }
  get size(): number {
    return this.#items.length - this.#head;
  }
  clear(): void {
    this.#items = [];
    this.#head = 0;
  }
}

const REQUEST_TIMEOUT_US = 10_000_000;

export function createPresenceWorker(send: Send) {
  const observers: Observer[] = [];
  const churners: Churner[] = [];
  /** Churner keys per room: sightings of other keys (observers) are not operations. */
  const churnKeys = new Set<string>();
  let book = new ConvergenceBook(1);
  const idleQ = new Queue<Churner>();
  const joinedQ = new Queue<Churner>();
  const outstanding = new Set<Churner>();
  const counters = new Map<number, PresenceStepCounters & { ackHistObj: Histogram }>();
  const errorSamples: string[] = [];
  let closingAll = false;
  let closedUnexpectedly = 0;
  let nextKind: OpKind = OpKind.Join;
  let diffsParsed = 0;

  const countersOf = (step: number) => {
    let c = counters.get(step);
    if (!c) {
      c = {
        issued: 0,
        joinsIssued: 0,
        leavesIssued: 0,
        acked: 0,
        errors: 0,
        firstIssueUs: 0,
        lastAckUs: 0,
        ackHist: { counts: [], count: 0, max: 0 },
        ackHistObj: new Histogram(),
      };
      counters.set(step, c);
    }
    return c;
  };

  const noteError = (step: number, what: string) => {
    countersOf(step).errors++;
    if (errorSamples.length < 5) errorSamples.push(what.slice(0, 300));
  };

  const onClose = () => {
    if (!closingAll) closedUnexpectedly++;
  };

  // -------------------------------------------------------------------------------------------
  // Observers

  const observerText = (o: Observer, data: Buffer): boolean => {
    const kind = classify(data);
    if (kind === FrameKind.Broadcast) {
      if (data.indexOf(PRESENCE_DIFF) < 0) return true;
      const at = nowUs();
      let frame: unknown;
      try {
        frame = JSON.parse(data.toString("utf8"));
      } catch {
        return true;
      }
      diffsParsed++;
      const diff = (frame as unknown[])[4];
      if (!o.stateSeen) o.buffered.push(diff);
      else applyObserved(o, diff, at);
      return true;
    }
    if (kind === FrameKind.Push) {
      if (data.indexOf(PRESENCE_STATE) < 0) return true;
      let frame: unknown;
      try {
        frame = JSON.parse(data.toString("utf8"));
      } catch {
        return true;
      }
      const state = ((frame as unknown[])[4] ?? {}) as WirePresenceMap;
      if (o.onState) {
        const cb = o.onState;
        o.onState = undefined;
        cb(state);
        return true;
      }
      o.view = viewFromState(state);
      const at = nowUs();
      if (!o.stateSeen) {
        o.stateSeen = true;
        for (const d of o.buffered.splice(0)) applyObserved(o, d, at);
      }
      return true;
    }
    // Replies: matched to the pending join/leave by PhxSocket.
    return false;
  };

  const applyObserved = (o: Observer, diff: unknown, at: number) => {
    applyDiff(o.view, diff as { joins?: WirePresenceMap; leaves?: WirePresenceMap }, (kind, key, ref) => {
      if (churnKeys.has(key)) book.sighted(kind, ref, o.node, at);
    });
  };

  // -------------------------------------------------------------------------------------------
  // Churners

  const churnerText = (c: Churner, data: Buffer): boolean => {
    const kind = classify(data);
    if (kind === FrameKind.Broadcast) {
      // Only while the ref of the current join is unknown: the first diff joining our key.
      if (c.state === "joined" && c.ref === undefined) {
        const ref = ownJoinRef(data, c.needle, c.prevRef);
        if (ref !== undefined) learned(c, ref);
      }
      return true;
    }
    if (kind === FrameKind.HeartbeatOk || kind === FrameKind.Push) return true;
    // A reply (ok or error) or a phx_close: few per op, worth a parse.
    const out = c.out;
    if (!out) return true;
    let frame: unknown;
    try {
      frame = JSON.parse(data.toString("utf8"));
    } catch {
      return true;
    }
    if (!Array.isArray(frame) || frame[3] !== "phx_reply" || frame[1] !== out.ref) return true;
    const at = nowUs();
    const status = (frame[4] as { status?: unknown } | undefined)?.status;
    c.out = undefined;
    outstanding.delete(c);
    if (status !== "ok") {
      noteError(out.step, `${out.kind === OpKind.Join ? "join" : "leave"}: ${data.toString("utf8")}`);
      c.state = out.kind === OpKind.Join ? "idle" : "broken";
      if (c.state === "idle") idleQ.push(c);
      settle(c);
      return true;
    }
    const k = countersOf(out.step);
    k.acked++;
    k.ackHistObj.record(at - out.sentUs);
    if (at > k.lastAckUs) k.lastAckUs = at;
    if (out.kind === OpKind.Join) {
      c.state = "joined";
      c.awaiting = book.joined(out.step, c.node, out.sentUs, at);
    } else {
      book.left(out.step, c.node, c.ref!, out.sentUs, at);
      c.prevRef = c.ref;
      c.ref = undefined;
      c.state = "idle";
      idleQ.push(c);
    }
    return true;
  };

  const learned = (c: Churner, ref: string) => {
    c.ref = ref;
    if (c.awaiting) book.bind(c.awaiting, ref);
    c.awaiting = undefined;
    joinedQ.push(c);
    settle(c);
  };

  const settle = (c: Churner) => {
    const cb = c.onSettled;
    c.onSettled = undefined;
    cb?.();
  };

  const startOp = (c: Churner, kind: OpKind, step: number) => {
    const ref = c.phx.nextRef();
    const sentUs = nowUs();
    c.out = { ref, kind, step, sentUs };
    outstanding.add(c);
    const k = countersOf(step);
    k.issued++;
    if (k.firstIssueUs === 0) k.firstIssueUs = sentUs;
    if (kind === OpKind.Join) {
      k.joinsIssued++;
      c.state = "joining";
      c.joinRef = ref;
      c.phx.sendText(`["${ref}","${ref}","${c.topic}","phx_join",{}]`);
    } else {
      k.leavesIssued++;
      c.state = "leaving";
      c.phx.sendText(`["${c.joinRef}","${ref}","${c.topic}","phx_leave",{}]`);
    }
  };

  // Requests that never got a reply: the churner is out of the game (counted as an error).
  setInterval(() => {
    const now = nowUs();
    for (const c of outstanding) {
      if (now - c.out!.sentUs <= REQUEST_TIMEOUT_US) continue;
      noteError(c.out!.step, `${c.out!.kind === OpKind.Join ? "join" : "leave"} timeout`);
      outstanding.delete(c);
      c.out = undefined;
      c.state = "broken";
      settle(c);
    }
  }, 500).unref();

  // Heartbeats every 30 s per socket, spread over the seconds (as client-worker.ts does).
  let hbTick = 0;
  setInterval(() => {
    const slot = hbTick++ % 30;
    for (let i = slot; i < observers.length; i += 30)
      if (!observers[i]!.phx.closed) observers[i]!.phx.heartbeat();
    for (let i = slot; i < churners.length; i += 30)
      if (!churners[i]!.phx.closed) churners[i]!.phx.heartbeat();
  }, 1_000).unref();

  // -------------------------------------------------------------------------------------------
  // Commands

  async function setup(m: Cmd<"presence-setup">): Promise<void> {
    book = new ConvergenceBook(m.nodes);
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
          phx.onClose = onClose;
          if (spec.role === "observer") await joinObserver(phx, spec, m.timeoutMs);
          else addChurner(phx, spec);
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
    for (const c of churners) churnKeys.add(c.key);
    send({
      type: "presence-ready",
      observers: observers.length,
      churners: churners.length,
      failed,
      errors: [...errors].map(([k, n]) => `${n}× ${k}`),
    });
  }

  async function joinObserver(phx: PhxSocket, spec: PresenceConn, timeoutMs: number): Promise<void> {
    const o: Observer = {
      phx,
      topic: spec.topic,
      room: spec.room,
      node: spec.node,
      key: spec.key,
      view: new Map(),
      stateSeen: false,
      buffered: [],
      onState: undefined,
    };
    phx.onText = (data) => observerText(o, data);
    const reply = await phx.join(spec.topic, {}, timeoutMs);
    if (reply.status !== "ok")
      throw new Error(`observer join ${reply.status}: ${JSON.stringify(reply.response)}`);
    const t0 = Date.now();
    while (!o.stateSeen) {
      if (Date.now() - t0 > timeoutMs) throw new Error("observer: no presence_state after join");
      await new Promise((r) => setTimeout(r, 10));
    }
    observers.push(o);
  }

  function addChurner(phx: PhxSocket, spec: PresenceConn): void {
    const c: Churner = {
      phx,
      key: spec.key,
      needle: keyNeedle(spec.key),
      topic: spec.topic,
      room: spec.room,
      node: spec.node,
      state: "idle",
      joinRef: "",
      ref: undefined,
      prevRef: undefined,
      awaiting: undefined,
      out: undefined,
      onSettled: undefined,
    };
    phx.onText = (data) => churnerText(c, data);
    churners.push(c);
  }

  /** Joins every other churner (not measured: step 0), so rooms start half full and stay so. */
  async function prefill(m: Cmd<"presence-prefill">): Promise<void> {
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
          startOp(c, OpKind.Join, 0);
        }
        if (inflight === 0 && next >= list.length) {
          clearTimeout(deadline);
          resolve();
        }
      };
      pump();
    });
    nextKind = OpKind.Join;
    send({
      type: "presence-prefilled",
      joined: churners.filter((c) => c.state === "joined" && c.ref !== undefined).length,
      errors: countersOf(0).errors,
      seconds: (nowUs() - t0) / 1e6,
    });
  }

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
        const c = nextKind === OpKind.Join ? idleQ.shift() : joinedQ.shift();
        if (!c) {
          // Every churner of the needed kind is busy: the op stays due (and late).
          starved++;
          break;
        }
        if (c.phx.closed || (nextKind === OpKind.Join ? c.state !== "idle" : c.state !== "joined")) continue;
        startOp(c, nextKind, s);
        nextKind = nextKind === OpKind.Join ? OpKind.Leave : OpKind.Join;
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
    book.sweep(nowUs(), m.timeoutMs * 1000);
    const k = countersOf(m.step);
    const { ackHistObj, ...rest } = k;
    const u = process.cpuUsage();
    send({
      type: "presence-collected",
      step: m.step,
      counters: { ...rest, ackHist: ackHistObj.toJSON() },
      stats: statsToData(book.step(m.step)),
      open: book.open + outstanding.size,
      orderViolations: book.orderViolations,
      duplicates: book.duplicates,
      records: book.records,
      diffsParsed,
      closedUnexpectedly,
      errorSamples: [...errorSamples],
      cpu: { userUs: u.user, systemUs: u.system },
    });
  }

  /**
   * Every observer's view against the truth (the observers and the churners joined now), then
   * a fresh presence_state per observer (leave + rejoin) against the churners' truth.
   */
  async function verify(m: Cmd<"presence-verify">): Promise<void> {
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
    const orderViolations = book.orderViolations;
    const duplicates = book.duplicates;

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
    send({
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

  function closeAll(): number {
    closingAll = true;
    const n = observers.length + churners.length;
    for (const o of observers) o.phx.close();
    for (const c of churners) c.phx.close();
    observers.length = 0;
    churners.length = 0;
    churnKeys.clear();
    idleQ.clear();
    joinedQ.clear();
    outstanding.clear();
    counters.clear();
    errorSamples.length = 0;
    closedUnexpectedly = 0;
    diffsParsed = 0;
    closingAll = false;
    return n;
  }

  return { setup, prefill, step, collect, verify, closeAll };
}
