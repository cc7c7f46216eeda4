/**
 * @module
 * Closing a node's sockets on shutdown in waves, as Phoenix's socket drainer does
 * (`drainer: [batch_size: 10_000, batch_interval: 2_000, shutdown: 30_000]`). Closed all at
 * once, every client of the node reconnects to the remaining nodes in the same instant: tens of
 * thousands of upgrades, token checks, joins and presence_states land together (a thundering
 * herd). Waves spread them over the drain; the timeout bounds it, so the node still finishes
 * inside its termination grace period however many sockets it holds.
 *
 * `planDrain` is the pure schedule; `runDrain` waits it out and hands each wave to its caller.
 */
import { setTimeout as sleep } from "node:timers/promises";

export interface DrainOptions {
  /** Sockets per wave (Phoenix batch_size). */
  batchSize: number;
  /** From one wave to the next (Phoenix batch_interval). */
  batchIntervalMs: number;
  /** From the first wave; whatever is left then goes in one last wave (Phoenix shutdown). 0: one wave. */
  timeoutMs: number;
}

/** The old behaviour, for callers without drain settings: one wave, now. */
export const CLOSE_AT_ONCE: Readonly<DrainOptions> = Object.freeze({
  batchSize: 1,
  batchIntervalMs: 0,
  timeoutMs: 0,
});

export interface Wave<T> {
  /** Offset from the start of the drain. */
  atMs: number;
  items: T[];
  /** Brought forward by the timeout: it holds everything the later waves would have. */
  cut: boolean;
}

/**
 * Wave i closes items [i·batchSize, (i+1)·batchSize) at i·batchIntervalMs; the first wave that
 * would start at or after the timeout instead closes everything left, at the timeout.
 */
export function planDrain<T>(items: readonly T[], o: DrainOptions): Wave<T>[] {
  if (!(o.batchSize >= 1)) throw new RangeError(`drain: expected a batch size ≥ 1, got ${o.batchSize}`);
  const waves: Wave<T>[] = [];
  for (let i = 0, from = 0; from < items.length; i++, from += o.batchSize) {
    const atMs = i * o.batchIntervalMs;
    if (atMs >= o.timeoutMs) {
      waves.push({ atMs: o.timeoutMs, items: items.slice(from), cut: true });
      break;
    }
    waves.push({ atMs, items: items.slice(from, from + o.batchSize), cut: false });
  }
  return waves;
}

export interface DrainSummary {
  waves: number;
  /** The timeout ended the schedule early (a longer DRAIN_TIMEOUT_MS would have spread it further). */
  cut: boolean;
}

export interface RunDrainDeps<T> {
  /**
   * Closes one wave's items; called once per wave, in order. Items are taken when the drain
   * starts: one that ended by itself since (the client left, sign-out everywhere) is the
   * caller's to skip.
   */
  close(items: T[], wave: number): void;
  /** For tests; defaults to real time. */
  sleep?: (ms: number) => Promise<unknown>;
  now?: () => number;
}

/**
 * Runs the plan against the clock. Each wave waits for its offset from the start, not for the
 * previous wave plus an interval, so a slow wave (10 000 close frames) does not push the rest,
 * and the timeout's wave, past the deadline.
 */
export async function runDrain<T>(
  items: readonly T[],
  options: DrainOptions,
  deps: RunDrainDeps<T>,
): Promise<DrainSummary> {
  const waves = planDrain(items, options);
  const now = deps.now ?? Date.now;
  const wait = deps.sleep ?? sleep;
  const start = now();
  for (const [i, wave] of waves.entries()) {
    const due = start + wave.atMs - now();
    if (due > 0) await wait(due);
    deps.close(wave.items, i);
  }
  return { waves: waves.length, cut: waves.at(-1)?.cut ?? false };
}
