/**
 * @module
 * Microseconds on CLOCK_MONOTONIC. process.hrtime reads that clock, which on Linux is one clock for
 * the whole machine: a timestamp taken in one worker process can be subtracted in another.
 */
export function nowUs(): number {
  const [s, ns] = process.hrtime();
  return s * 1e6 + Math.floor(ns / 1e3);
}
