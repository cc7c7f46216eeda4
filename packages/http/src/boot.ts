/**
 * @module
 * What every Nexus process does at its edges: refuse to start with a clear reason (logged and
 * on stderr, exit 1), refuse the slow uWS fallback, and run one graceful shutdown on
 * SIGTERM/SIGINT however many signals arrive.
 */
import { requireNativeUws } from "./uws.js";

export type Fatal = (msg: string, extra?: Record<string, unknown>) => never;

export function createFatal(log: { fatal(obj: object, msg: string): void }, processName: string): Fatal {
  return (msg, extra = {}) => {
    log.fatal(extra, msg);
    // pino may write asynchronously; stderr makes sure whoever started us sees why we stopped.
    process.stderr.write(`nexus ${processName}: ${msg}\n`);
    process.exit(1);
  };
}

/** Exits (through `fatal`) unless uWebSockets.js loaded its native binary. */
export function requireNativeUwsOrExit(fatal: Fatal): void {
  try {
    requireNativeUws();
  } catch (e) {
    fatal((e as Error).message);
  }
}

/** Runs `stop` once on the first SIGTERM or SIGINT, then exits 0. */
export function onShutdown(stop: (signal: NodeJS.Signals) => Promise<void>): void {
  let stopping = false;
  const handler = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    void stop(signal).finally(() => process.exit(0));
  };
  process.on("SIGTERM", handler);
  process.on("SIGINT", handler);
}
