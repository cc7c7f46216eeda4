/**
 * @module
 * What must be stopped however the run ends (gateways, client workers, throwaway Postgres and
 * Redis): registered as each starts, stopped newest first at the end, on SIGINT/SIGTERM, or when
 * the run overstays its deadline.
 */
import { log } from "./log.js";

const cleanups: Array<() => Promise<void>> = [];
let cleaning: Promise<void> | undefined;

export function onCleanup(c: () => Promise<void>): void {
  cleanups.push(c);
}

/** Runs every registered cleanup once; later calls get the same promise. */
export function cleanup(): Promise<void> {
  cleaning ??= (async () => {
    for (const c of cleanups.splice(0).reverse()) await c().catch(() => {});
  })();
  return cleaning;
}

/** Cleans up and exits on SIGINT/SIGTERM (130), and after `maxMinutes` (3). */
export function stopOnSignalsAndDeadline(maxMinutes: number): void {
  for (const sig of ["SIGINT", "SIGTERM"] as const) {
    process.once(sig, () => {
      log(`${sig}: stopping`);
      void cleanup().then(() => process.exit(130));
    });
  }
  setTimeout(() => {
    console.error(`bench: over the --max-minutes deadline (${maxMinutes} min); stopping`);
    void cleanup().then(() => process.exit(3));
  }, maxMinutes * 60_000).unref();
}
