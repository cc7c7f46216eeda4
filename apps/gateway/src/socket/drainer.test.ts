import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { CLOSE_AT_ONCE, type DrainOptions, planDrain, runDrain } from "./drainer.js";

const range = (n: number) => Array.from({ length: n }, (_, i) => i);
const shape = (waves: ReturnType<typeof planDrain<number>>) =>
  waves.map((w) => ({ at: w.atMs, items: w.items, cut: w.cut }));

describe("planDrain", () => {
  const phoenixLike: DrainOptions = { batchSize: 4, batchIntervalMs: 2_000, timeoutMs: 30_000 };

  it("closes batchSize items per wave, one interval apart, the remainder last", () => {
    expect(shape(planDrain(range(9), phoenixLike))).toEqual([
      { at: 0, items: [0, 1, 2, 3], cut: false },
      { at: 2_000, items: [4, 5, 6, 7], cut: false },
      { at: 4_000, items: [8], cut: false },
    ]);
    expect(planDrain(range(8), phoenixLike).map((w) => w.items.length)).toEqual([4, 4]);
  });

  it("closes everything in one wave, at once, when the batch is larger than the count", () => {
    expect(shape(planDrain(range(3), { ...phoenixLike, batchSize: 10_000 }))).toEqual([
      { at: 0, items: [0, 1, 2], cut: false },
    ]);
  });

  it("plans nothing for no sockets", () => {
    expect(planDrain([], phoenixLike)).toEqual([]);
    expect(planDrain([], { ...phoenixLike, timeoutMs: 0 })).toEqual([]);
  });

  it("puts everything left at the timeout in one wave when the schedule would run past it", () => {
    expect(shape(planDrain(range(9), { batchSize: 2, batchIntervalMs: 1_000, timeoutMs: 1_500 }))).toEqual([
      { at: 0, items: [0, 1], cut: false },
      { at: 1_000, items: [2, 3], cut: false },
      { at: 1_500, items: [4, 5, 6, 7, 8], cut: true },
    ]);
  });

  it("cuts a wave that falls exactly on the timeout", () => {
    expect(shape(planDrain(range(7), { batchSize: 2, batchIntervalMs: 1_000, timeoutMs: 2_000 }))).toEqual([
      { at: 0, items: [0, 1], cut: false },
      { at: 1_000, items: [2, 3], cut: false },
      { at: 2_000, items: [4, 5, 6], cut: true },
    ]);
  });

  it("closes everything at once with a zero timeout (and with CLOSE_AT_ONCE)", () => {
    expect(shape(planDrain(range(5), { ...phoenixLike, timeoutMs: 0 }))).toEqual([
      { at: 0, items: [0, 1, 2, 3, 4], cut: true },
    ]);
    expect(planDrain(range(5), CLOSE_AT_ONCE).map((w) => [w.atMs, w.items.length])).toEqual([[0, 5]]);
  });

  it("refuses a batch size below 1 rather than looping forever", () => {
    expect(() => planDrain(range(3), { ...phoenixLike, batchSize: 0 })).toThrow(RangeError);
    expect(() => planDrain(range(3), { ...phoenixLike, batchSize: Number.NaN })).toThrow(RangeError);
  });

  it("for any settings: every item once and in order, waves full but the last, none after the timeout", () => {
    fc.assert(
      fc.property(
        fc.nat(200),
        fc.integer({ min: 1, max: 50 }),
        fc.nat(5_000),
        fc.nat(20_000),
        (n, batchSize, batchIntervalMs, timeoutMs) => {
          const waves = planDrain(range(n), { batchSize, batchIntervalMs, timeoutMs });
          expect(waves.flatMap((w) => w.items)).toEqual(range(n));
          expect(waves.length).toBeLessThanOrEqual(Math.ceil(n / batchSize));
          for (const [i, w] of waves.entries()) {
            const last = i === waves.length - 1;
            expect(w.items.length).toBeGreaterThan(0);
            expect(w.atMs).toBeLessThanOrEqual(timeoutMs);
            if (i > 0) expect(w.atMs).toBeGreaterThanOrEqual(waves[i - 1]!.atMs);
            if (!last) expect(w.items.length).toBe(batchSize);
            if (!last) expect(w.cut).toBe(false);
            if (!w.cut) expect(w.atMs).toBe(i * batchIntervalMs);
          }
        },
      ),
    );
  });
});

/** A clock that only moves when the drain sleeps or a wave says it took time. */
function virtualClock() {
  let t = 1_000_000;
  return {
    now: () => t,
    sleep: async (ms: number) => {
      t += ms;
    },
    advance: (ms: number) => {
      t += ms;
    },
    since: (start: number) => t - start,
  };
}

describe("runDrain", () => {
  it("hands each wave over at its offset from the start", async () => {
    const clock = virtualClock();
    const start = clock.now();
    const seen: Array<[number, number[], number]> = [];
    const summary = await runDrain(
      range(9),
      { batchSize: 4, batchIntervalMs: 500, timeoutMs: 10_000 },
      {
        ...clock,
        close: (items, wave) => {
          seen.push([clock.since(start), items, wave]);
        },
      },
    );
    expect(seen).toEqual([
      [0, [0, 1, 2, 3], 0],
      [500, [4, 5, 6, 7], 1],
      [1_000, [8], 2],
    ]);
    expect(summary).toEqual({ waves: 3, cut: false });
  });

  it("keeps to the schedule when a wave is slow to close, and still cuts at the timeout", async () => {
    const clock = virtualClock();
    const start = clock.now();
    const at: number[] = [];
    const summary = await runDrain(
      range(10),
      { batchSize: 2, batchIntervalMs: 1_000, timeoutMs: 2_500 },
      {
        ...clock,
        close: () => {
          at.push(clock.since(start));
          clock.advance(400); // 10 000 close frames are not free
        },
      },
    );
    // Not 0, 1 400, 2 800…: each wave is due at its own offset from the start.
    expect(at).toEqual([0, 1_000, 2_000, 2_500]);
    expect(summary).toEqual({ waves: 4, cut: true });
  });

  it("resolves at once, closing nothing, with no sockets", async () => {
    const clock = virtualClock();
    let calls = 0;
    const summary = await runDrain(
      [],
      { batchSize: 1, batchIntervalMs: 1_000, timeoutMs: 5_000 },
      {
        ...clock,
        close: () => {
          calls++;
        },
      },
    );
    expect(calls).toBe(0);
    expect(summary).toEqual({ waves: 0, cut: false });
  });

  it("waits in real time by default", async () => {
    const at: number[] = [];
    const start = Date.now();
    await runDrain(
      range(2),
      { batchSize: 1, batchIntervalMs: 40, timeoutMs: 1_000 },
      {
        close: () => {
          at.push(Date.now() - start);
        },
      },
    );
    expect(at[0]).toBeLessThan(30);
    expect(at[1]).toBeGreaterThanOrEqual(35);
  });
});
