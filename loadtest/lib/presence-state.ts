/**
 * @module
 * The presence side of a client worker, as data: its observer and churner sockets, the queues
 * the open-loop schedule takes churners from, the per-step counters and the convergence book.
 * One PresenceState per worker process, shared by presence-worker.ts and the modules it uses.
 */
import { Histogram } from "./histogram.js";
import type { FromWorker, PresenceStepCounters, ToWorker } from "./ipc.js";
import type { PhxSocket } from "./phx-client.js";
import { ConvergenceBook, type Op, OpKind, type View, type WirePresenceMap } from "./presence-book.js";

export type Send = (m: FromWorker) => void;
export type Cmd<T extends ToWorker["type"]> = Extract<ToWorker, { type: T }>;

export interface Observer {
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

export type ChurnState = "idle" | "joining" | "joined" | "leaving" | "broken";

export interface Outstanding {
  ref: string;
  kind: OpKind;
  step: number;
  sentUs: number;
}

export interface Churner {
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
export class Queue<T> {
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

export type StepCounters = PresenceStepCounters & { ackHistObj: Histogram };

export class PresenceState {
  readonly observers: Observer[] = [];
  readonly churners: Churner[] = [];
  /** Churner keys per room: sightings of other keys (observers) are not operations. */
  readonly churnKeys = new Set<string>();
  /** Replaced by every presence-setup (it knows the node count). */
  book = new ConvergenceBook(1);
  readonly idleQ = new Queue<Churner>();
  readonly joinedQ = new Queue<Churner>();
  readonly outstanding = new Set<Churner>();
  readonly counters = new Map<number, StepCounters>();
  readonly errorSamples: string[] = [];
  closingAll = false;
  closedUnexpectedly = 0;
  /** The open loop alternates joins and leaves. */
  nextKind: OpKind = OpKind.Join;
  diffsParsed = 0;

  constructor(readonly send: Send) {}

  countersOf(step: number): StepCounters {
    let c = this.counters.get(step);
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
      this.counters.set(step, c);
    }
    return c;
  }

  noteError(step: number, what: string): void {
    this.countersOf(step).errors++;
    if (this.errorSamples.length < 5) this.errorSamples.push(what.slice(0, 300));
  }

  /** Every socket's onClose: closes we did not ask for are counted. */
  readonly onClose = () => {
    if (!this.closingAll) this.closedUnexpectedly++;
  };
}
