/** @module Messages between the runner and its client worker processes (child_process IPC). */
import type { HistogramData } from "./histogram.js";
import type { StepStatsData } from "./presence-book.js";

/** One client connection to open: who, to which node, from which source address, into which room. */
export interface ConnSpec {
  token: string;
  topic: string;
  port: number;
  localAddress: string;
}

/** presence scenario: a socket's role, its room (index) and node (index), and its presence key (user id). */
export interface PresenceConn extends ConnSpec {
  role: "observer" | "churner";
  room: number;
  node: number;
  key: string;
}

export interface PresenceStepCounters {
  /** Joins + leaves sent in this step, and of them joins / leaves. */
  issued: number;
  joinsIssued: number;
  leavesIssued: number;
  /** …answered ok / with an error or not within 10 s. */
  acked: number;
  errors: number;
  firstIssueUs: number;
  lastAckUs: number;
  /** Request → reply. */
  ackHist: HistogramData;
}

export interface ViewCheckSum {
  observers: number;
  /** Observers whose view differs from the truth in any way. */
  mismatched: number;
  missingKeys: number;
  extraKeys: number;
  wrongRefs: number;
  samples: string[];
}

export interface PresenceVerifyResult {
  /** Every observer's view, kept up to date from presence_state + presence_diff. */
  live: ViewCheckSum;
  /** A fresh presence_state per observer (leave + rejoin), churner keys only. */
  snapshot: ViewCheckSum;
  snapshotErrors: number;
  /** Churners with a join or leave still unanswered (excluded from the comparison). */
  unsettledChurners: number;
  joinedChurners: number;
  refUnknown: number;
  orderViolations: number;
  duplicates: number;
}

export type ToWorker =
  /** Connect and join every spec, `concurrency` at a time, starting at `startAtUs` (monotonic clock). */
  | { type: "connect"; conns: ConnSpec[]; concurrency: number; timeoutMs: number; startAtUs: number }
  /** Send `rate` new_msg/s (this worker's share) from its sockets during [startAtUs, startAtUs + durationMs). */
  | { type: "step"; step: number; rate: number; startAtUs: number; durationMs: number }
  | { type: "collect"; step: number }
  | { type: "close-all" }
  | { type: "exit" }
  /** presence: connect (observers also join), starting at `startAtUs`. */
  | {
      type: "presence-setup";
      conns: PresenceConn[];
      nodes: number;
      concurrency: number;
      timeoutMs: number;
      startAtUs: number;
    }
  /** presence: join every other churner (step 0, not measured). */
  | { type: "presence-prefill"; concurrency: number; timeoutMs: number }
  /** presence: `rate` joins+leaves/s (this worker's share) during [startAtUs, startAtUs + durationMs). */
  | { type: "presence-step"; step: number; rate: number; startAtUs: number; durationMs: number }
  /** presence: ops not seen everywhere within `timeoutMs` of their ack become missing. */
  | { type: "presence-collect"; step: number; timeoutMs: number }
  | { type: "presence-verify"; timeoutMs: number };

export interface CpuTimes {
  userUs: number;
  systemUs: number;
}

export type FromWorker =
  | { type: "ready" }
  | {
      type: "connected";
      ok: number;
      failed: number;
      errors: string[];
      /** Connect + upgrade + join reply, per socket. */
      hist: HistogramData;
      firstStartUs: number;
      lastDoneUs: number;
      cpu: CpuTimes;
    }
  | { type: "step-sent"; step: number; sent: number; lateUs: number }
  | {
      type: "collected";
      step: number;
      /** Broadcasts of this step's messages received, any time. */
      deliveries: number;
      /** …of which received before the step's sending window closed. */
      inWindow: number;
      /** Monotonic µs of the last of them (0: none). */
      lastRecvUs: number;
      hist: HistogramData;
      /** Send → reply of this step's messages. */
      ackHist: HistogramData;
      replyOk: number;
      replyError: number;
      errorSamples: string[];
      open: number;
      closedUnexpectedly: number;
      closeReasons: Record<string, number>;
      heartbeatReplies: number;
      cpu: CpuTimes;
    }
  | { type: "closed"; count: number }
  | { type: "presence-ready"; observers: number; churners: number; failed: number; errors: string[] }
  | { type: "presence-prefilled"; joined: number; errors: number; seconds: number }
  | { type: "presence-step-sent"; step: number; issued: number; lateUs: number; starvedTicks: number }
  | {
      type: "presence-collected";
      step: number;
      counters: PresenceStepCounters;
      stats: StepStatsData;
      /** Ops not resolved yet (acked but not seen everywhere, or unanswered). */
      open: number;
      orderViolations: number;
      duplicates: number;
      records: number;
      diffsParsed: number;
      closedUnexpectedly: number;
      errorSamples: string[];
      cpu: CpuTimes;
    }
  | { type: "presence-verified"; result: PresenceVerifyResult }
  | { type: "fatal"; message: string };
