/** @module Messages between the runner and its client worker processes (child_process IPC). */
import type { HistogramData } from "./histogram.js";

/** One client connection to open: who, to which node, from which source address, into which room. */
export interface ConnSpec {
  token: string;
  topic: string;
  port: number;
  localAddress: string;
}

export type ToWorker =
  /** Connect and join every spec, `concurrency` at a time, starting at `startAtUs` (monotonic clock). */
  | { type: "connect"; conns: ConnSpec[]; concurrency: number; timeoutMs: number; startAtUs: number }
  /** Send `rate` new_msg/s (this worker's share) from its sockets during [startAtUs, startAtUs + durationMs). */
  | { type: "step"; step: number; rate: number; startAtUs: number; durationMs: number }
  | { type: "collect"; step: number }
  | { type: "close-all" }
  | { type: "exit" };

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
  | { type: "fatal"; message: string };
