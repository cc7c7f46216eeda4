/** @module What the fanout and presence ladders share. */

let stepCounter = 0;
/**
 * Step numbers run on across scenarios and cluster sizes: the client workers keep their per-step
 * counters by step number for the whole run, so a number is never used twice.
 */
export const nextStep = () => ++stepCounter;
export const lastStep = () => stepCounter;

/** A step whose p99 is over this is saturated (why not lower: see fanoutStep). */
export const P99_EXPLODED_US = 1_000_000;
