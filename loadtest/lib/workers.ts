/**
 * @module
 * The runner's side of the client workers: forks them, sends commands, awaits typed answers.
 * Each worker is its own process so each has its own 20,000-file budget and its own core time.
 */
import { type ChildProcess, fork } from "node:child_process";
import { nowUs } from "./clock.js";
import { Histogram } from "./histogram.js";
import type { ConnSpec, CpuTimes, FromWorker, PresenceConn, PresenceVerifyResult, ToWorker } from "./ipc.js";
import { emptyStats, mergeStats, type StepStats } from "./presence-book.js";

type Answer<T extends FromWorker["type"]> = Extract<FromWorker, { type: T }>;

interface Waiter {
  type: FromWorker["type"];
  resolve(m: FromWorker): void;
  reject(e: Error): void;
}

export interface ConnectOutcome {
  ok: number;
  failed: number;
  errors: string[];
  hist: Histogram;
  /** First connect started → last join answered, across all workers. */
  seconds: number;
}

export interface Collected {
  deliveries: number;
  inWindow: number;
  lastRecvUs: number;
  hist: Histogram;
  ackHist: Histogram;
  replyOk: number;
  replyError: number;
  errorSamples: string[];
  open: number;
  closedUnexpectedly: number;
  closeReasons: Record<string, number>;
  heartbeatReplies: number;
  cpuSeconds: number;
}

export interface PresenceCollected {
  issued: number;
  joinsIssued: number;
  leavesIssued: number;
  acked: number;
  errors: number;
  firstIssueUs: number;
  lastAckUs: number;
  ackHist: Histogram;
  stats: StepStats;
  open: number;
  orderViolations: number;
  duplicates: number;
  records: number;
  diffsParsed: number;
  closedUnexpectedly: number;
  errorSamples: string[];
  cpuSeconds: number;
}

const cpuSec = (c: CpuTimes) => (c.userUs + c.systemUs) / 1e6;

export class Workers {
  readonly #procs: ChildProcess[];
  readonly #waiters: Waiter[][];

  private constructor(procs: ChildProcess[]) {
    this.#procs = procs;
    this.#waiters = procs.map(() => []);
    procs.forEach((p, i) => {
      p.on("message", (m: FromWorker) => {
        const list = this.#waiters[i]!;
        if (m.type === "fatal") {
          for (const w of list.splice(0)) w.reject(new Error(`client worker ${i}: ${m.message}`));
          return;
        }
        const at = list.findIndex((w) => w.type === m.type);
        if (at >= 0) list.splice(at, 1)[0]!.resolve(m);
      });
      p.on("exit", (code) => {
        for (const w of this.#waiters[i]!.splice(0))
          w.reject(new Error(`client worker ${i} exited (${code})`));
      });
    });
  }

  get size(): number {
    return this.#procs.length;
  }

  get pids(): number[] {
    return this.#procs.map((p) => p.pid!);
  }

  static async start(script: string, n: number): Promise<Workers> {
    // execArgv [] so a profiling flag given to the runner does not leak into every worker.
    const procs = Array.from({ length: n }, () => fork(script, [], { execArgv: [], stdio: "inherit" }));
    const w = new Workers(procs);
    await Promise.all(procs.map((_, i) => w.#await(i, "ready", 30_000)));
    return w;
  }

  #await<T extends FromWorker["type"]>(i: number, type: T, timeoutMs: number): Promise<Answer<T>> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        const list = this.#waiters[i]!;
        const at = list.indexOf(waiter);
        if (at >= 0) list.splice(at, 1);
        reject(new Error(`client worker ${i}: no "${type}" within ${timeoutMs} ms`));
      }, timeoutMs);
      const waiter: Waiter = {
        type,
        resolve: (m) => {
          clearTimeout(timer);
          resolve(m as Answer<T>);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      };
      this.#waiters[i]!.push(waiter);
    });
  }

  #ask<T extends FromWorker["type"]>(
    i: number,
    msg: ToWorker,
    type: T,
    timeoutMs: number,
  ): Promise<Answer<T>> {
    const answer = this.#await(i, type, timeoutMs);
    this.#procs[i]!.send(msg);
    return answer;
  }

  /** Connects every worker's share at the same instant; resolves when all have answered. */
  async connect(shares: ConnSpec[][], concurrency: number, timeoutMs = 15_000): Promise<ConnectOutcome> {
    const startAtUs = nowUs() + 300_000;
    const total = shares.reduce((a, s) => a + s.length, 0);
    // Bounded: even a refused storm ends, each socket within its own timeout.
    const overall = 120_000 + Math.ceil(total / Math.max(1, concurrency)) * timeoutMs;
    const answers = await Promise.all(
      shares.map((conns, i) =>
        this.#ask(i, { type: "connect", conns, concurrency, timeoutMs, startAtUs }, "connected", overall),
      ),
    );
    const hist = new Histogram();
    for (const a of answers) hist.merge(a.hist);
    const first = Math.min(...answers.map((a) => a.firstStartUs));
    const last = Math.max(...answers.map((a) => a.lastDoneUs));
    return {
      ok: answers.reduce((s, a) => s + a.ok, 0),
      failed: answers.reduce((s, a) => s + a.failed, 0),
      errors: answers.flatMap((a) => a.errors).slice(0, 10),
      hist,
      seconds: (last - first) / 1e6,
    };
  }

  /** Starts a sending step on every worker (rate split evenly); resolves when all have sent their share. */
  async step(
    step: number,
    rate: number,
    durationMs: number,
  ): Promise<{ sent: number; lateMs: number; startAtUs: number }> {
    const startAtUs = nowUs() + 200_000;
    const share = rate / this.size;
    const answers = await Promise.all(
      this.#procs.map((_, i) =>
        this.#ask(
          i,
          { type: "step", step, rate: share, startAtUs, durationMs },
          "step-sent",
          durationMs + 60_000,
        ),
      ),
    );
    return {
      sent: answers.reduce((s, a) => s + a.sent, 0),
      lateMs: Math.max(...answers.map((a) => a.lateUs)) / 1000,
      startAtUs,
    };
  }

  async collect(step: number): Promise<Collected> {
    const answers = await Promise.all(
      this.#procs.map((_, i) => this.#ask(i, { type: "collect", step }, "collected", 30_000)),
    );
    const hist = new Histogram();
    const ackHist = new Histogram();
    const closeReasons: Record<string, number> = {};
    for (const a of answers) {
      hist.merge(a.hist);
      ackHist.merge(a.ackHist);
      for (const [k, n] of Object.entries(a.closeReasons)) closeReasons[k] = (closeReasons[k] ?? 0) + n;
    }
    const sum = (f: (a: Answer<"collected">) => number) => answers.reduce((s, a) => s + f(a), 0);
    return {
      deliveries: sum((a) => a.deliveries),
      inWindow: sum((a) => a.inWindow),
      lastRecvUs: Math.max(...answers.map((a) => a.lastRecvUs)),
      hist,
      ackHist,
      replyOk: sum((a) => a.replyOk),
      replyError: sum((a) => a.replyError),
      errorSamples: answers.flatMap((a) => a.errorSamples).slice(0, 5),
      open: sum((a) => a.open),
      closedUnexpectedly: sum((a) => a.closedUnexpectedly),
      closeReasons,
      heartbeatReplies: sum((a) => a.heartbeatReplies),
      cpuSeconds: sum((a) => cpuSec(a.cpu)),
    };
  }

  // --- presence scenario -----------------------------------------------------------------------

  /** Connects every worker's observers (joined) and churners (not joined). */
  async presenceSetup(shares: PresenceConn[][], nodes: number, concurrency: number, timeoutMs = 15_000) {
    const startAtUs = nowUs() + 300_000;
    const total = shares.reduce((a, s) => a + s.length, 0);
    const overall = 120_000 + Math.ceil(total / Math.max(1, concurrency)) * timeoutMs;
    const answers = await Promise.all(
      shares.map((conns, i) =>
        this.#ask(
          i,
          { type: "presence-setup", conns, nodes, concurrency, timeoutMs, startAtUs },
          "presence-ready",
          overall,
        ),
      ),
    );
    return {
      observers: answers.reduce((s, a) => s + a.observers, 0),
      churners: answers.reduce((s, a) => s + a.churners, 0),
      failed: answers.reduce((s, a) => s + a.failed, 0),
      errors: answers.flatMap((a) => a.errors).slice(0, 10),
    };
  }

  async presencePrefill(concurrency: number, timeoutMs: number) {
    const answers = await Promise.all(
      this.#procs.map((_, i) =>
        this.#ask(
          i,
          { type: "presence-prefill", concurrency, timeoutMs },
          "presence-prefilled",
          timeoutMs + 30_000,
        ),
      ),
    );
    return {
      joined: answers.reduce((s, a) => s + a.joined, 0),
      errors: answers.reduce((s, a) => s + a.errors, 0),
      seconds: Math.max(...answers.map((a) => a.seconds)),
    };
  }

  /** One presence step; `rates[i]` is worker i's share of joins+leaves/s. */
  async presenceStep(step: number, rates: number[], durationMs: number) {
    const startAtUs = nowUs() + 200_000;
    const answers = await Promise.all(
      this.#procs.map((_, i) =>
        this.#ask(
          i,
          { type: "presence-step", step, rate: rates[i] ?? 0, startAtUs, durationMs },
          "presence-step-sent",
          durationMs + 60_000,
        ),
      ),
    );
    return {
      issued: answers.reduce((s, a) => s + a.issued, 0),
      lateMs: Math.max(...answers.map((a) => a.lateUs)) / 1000,
      starvedTicks: answers.reduce((s, a) => s + a.starvedTicks, 0),
      startAtUs,
    };
  }

  async presenceCollect(step: number, timeoutMs: number): Promise<PresenceCollected> {
    const answers = await Promise.all(
      this.#procs.map((_, i) =>
        this.#ask(i, { type: "presence-collect", step, timeoutMs }, "presence-collected", 30_000),
      ),
    );
    const stats = emptyStats();
    const ackHist = new Histogram();
    for (const a of answers) {
      mergeStats(stats, a.stats);
      ackHist.merge(a.counters.ackHist);
    }
    const sum = (f: (a: Answer<"presence-collected">) => number) => answers.reduce((s, a) => s + f(a), 0);
    return {
      issued: sum((a) => a.counters.issued),
      joinsIssued: sum((a) => a.counters.joinsIssued),
      leavesIssued: sum((a) => a.counters.leavesIssued),
      acked: sum((a) => a.counters.acked),
      errors: sum((a) => a.counters.errors),
      firstIssueUs: Math.min(...answers.map((a) => a.counters.firstIssueUs || Number.POSITIVE_INFINITY)),
      lastAckUs: Math.max(...answers.map((a) => a.counters.lastAckUs)),
      ackHist,
      stats,
      open: sum((a) => a.open),
      orderViolations: sum((a) => a.orderViolations),
      duplicates: sum((a) => a.duplicates),
      records: sum((a) => a.records),
      diffsParsed: sum((a) => a.diffsParsed),
      closedUnexpectedly: sum((a) => a.closedUnexpectedly),
      errorSamples: answers.flatMap((a) => a.errorSamples).slice(0, 5),
      cpuSeconds: sum((a) => cpuSec(a.cpu)),
    };
  }

  async presenceVerify(timeoutMs: number): Promise<PresenceVerifyResult> {
    const answers = await Promise.all(
      this.#procs.map((_, i) =>
        this.#ask(i, { type: "presence-verify", timeoutMs }, "presence-verified", timeoutMs * 3 + 30_000),
      ),
    );
    const out = answers[0]!.result;
    for (const { result: r } of answers.slice(1)) {
      for (const k of ["live", "snapshot"] as const) {
        out[k].observers += r[k].observers;
        out[k].mismatched += r[k].mismatched;
        out[k].missingKeys += r[k].missingKeys;
        out[k].extraKeys += r[k].extraKeys;
        out[k].wrongRefs += r[k].wrongRefs;
        out[k].samples = [...out[k].samples, ...r[k].samples].slice(0, 5);
      }
      out.snapshotErrors += r.snapshotErrors;
      out.unsettledChurners += r.unsettledChurners;
      out.joinedChurners += r.joinedChurners;
      out.refUnknown += r.refUnknown;
      out.orderViolations += r.orderViolations;
      out.duplicates += r.duplicates;
    }
    return out;
  }

  async closeAll(): Promise<number> {
    const answers = await Promise.all(
      this.#procs.map((_, i) => this.#ask(i, { type: "close-all" }, "closed", 60_000)),
    );
    return answers.reduce((s, a) => s + a.count, 0);
  }

  stop(): void {
    for (const p of this.#procs) {
      if (p.connected) p.send({ type: "exit" } satisfies ToWorker);
      setTimeout(() => p.kill("SIGKILL"), 5_000).unref();
    }
  }
}
