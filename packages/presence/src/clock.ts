/**
 * @module
 * Time for the tracker, injectable so tests drive heartbeats and down periods without sleeping.
 */

/** Opaque: whatever the clock's setTimeout/setInterval returned. */
export type TimerHandle = unknown;

export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
  setInterval(fn: () => void, ms: number): TimerHandle;
  clearInterval(handle: TimerHandle): void;
}

/** Real time; timers are unref'd so a forgotten tracker never keeps a process alive. */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms).unref(),
  clearTimeout: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
  setInterval: (fn, ms) => setInterval(fn, ms).unref(),
  clearInterval: (h) => clearInterval(h as ReturnType<typeof setInterval>),
};

export interface ManualClock extends Clock {
  /** Moves time forward, running every timer that falls due, in due order. */
  advance(ms: number): void;
}

/** A clock that moves only when told to (tests). */
export function createManualClock(start = 0): ManualClock {
  let now = start;
  let seq = 0;
  const timers = new Map<number, { due: number; every: number; fn: () => void }>();
  const add = (fn: () => void, ms: number, every: number) => {
    const id = ++seq;
    timers.set(id, { due: now + Math.max(0, ms), every, fn });
    return { id };
  };
  const clear = (h: TimerHandle) => {
    if (typeof h === "object" && h !== null && "id" in h && typeof h.id === "number") timers.delete(h.id);
  };
  return {
    now: () => now,
    setTimeout: (fn, ms) => add(fn, ms, 0),
    setInterval: (fn, ms) => add(fn, ms, Math.max(1, ms)),
    clearTimeout: clear,
    clearInterval: clear,
    advance(ms) {
      const until = now + ms;
      for (;;) {
        let nextId: number | undefined;
        let next: { due: number; every: number; fn: () => void } | undefined;
        for (const [id, t] of timers) {
          if (t.due <= until && (!next || t.due < next.due)) {
            next = t;
            nextId = id;
          }
        }
        if (!next || nextId === undefined) break;
        now = next.due;
        if (next.every > 0) next.due += next.every;
        else timers.delete(nextId);
        next.fn();
      }
      now = until;
    },
  };
}
