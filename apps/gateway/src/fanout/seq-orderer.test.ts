import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { SeqOrderer } from "./seq-orderer.js";

function harness(db: Map<number, string> = new Map()) {
  const delivered: string[] = [];
  const timers: Array<{ fn: () => void; live: boolean }> = [];
  const gaps: Array<[number, number, number]> = [];
  const o = new SeqOrderer<string>({
    gapTimeoutMs: 50,
    deliver: (_t, item) => delivered.push(item),
    fillGap: async (_t, from, to) => {
      const out = [];
      for (let s = from; s <= to; s++) if (db.has(s)) out.push({ seq: s, item: db.get(s)! });
      return out;
    },
    setTimer: (fn) => {
      const t = { fn, live: true };
      timers.push(t);
      return {
        cancel: () => {
          t.live = false;
        },
      };
    },
    onGap: (_t, from, to, filled) => gaps.push([from, to, filled]),
  });
  const fire = async () => {
    // Cancelled timers fire too: the orderer must ignore stale ones by itself.
    for (const t of timers.splice(0)) t.fn();
    await new Promise((r) => setTimeout(r, 0));
  };
  return { o, delivered, timers, gaps, fire };
}

describe("SeqOrderer", () => {
  it("delivers in order, holding an early arrival until the gap closes", () => {
    const { o, delivered } = harness();
    o.offer("t", 5, "m5");
    o.offer("t", 7, "m7");
    expect(delivered).toEqual(["m5"]);
    o.offer("t", 6, "m6");
    expect(delivered).toEqual(["m5", "m6", "m7"]);
  });

  it("drops what it delivered already", () => {
    const { o, delivered } = harness();
    o.offer("t", 1, "a");
    o.offer("t", 1, "a again");
    o.offer("t", 2, "b");
    o.offer("t", 3, "c");
    o.offer("t", 3, "c again");
    expect(delivered).toEqual(["a", "b", "c"]);
  });

  it("fills a gap that stays open from the database, in place", async () => {
    const { o, delivered, fire, gaps } = harness(
      new Map([
        [2, "m2 (db)"],
        [3, "m3 (db)"],
      ]),
    );
    o.offer("t", 1, "m1");
    o.offer("t", 4, "m4");
    o.offer("t", 5, "m5");
    expect(delivered).toEqual(["m1"]);
    await fire();
    expect(delivered).toEqual(["m1", "m2 (db)", "m3 (db)", "m4", "m5"]);
    expect(gaps).toEqual([[2, 3, 2]]);
    // The late original of a filled seq is not delivered twice.
    o.offer("t", 2, "m2 late");
    o.offer("t", 6, "m6");
    expect(delivered.slice(-1)).toEqual(["m6"]);
  });

  it("skips seqs the database does not have (deleted) instead of stalling", async () => {
    const { o, delivered, fire } = harness(new Map());
    o.offer("t", 1, "m1");
    o.offer("t", 3, "m3");
    await fire();
    expect(delivered).toEqual(["m1", "m3"]);
  });

  it("keeps topics apart, and forget() starts a new baseline", () => {
    const { o, delivered } = harness();
    o.offer("a", 10, "a10");
    o.offer("b", 1, "b1");
    o.offer("a", 11, "a11");
    o.forget("a");
    o.offer("a", 3, "a3");
    expect(delivered).toEqual(["a10", "b1", "a11", "a3"]);
  });

  it("any arrival order of 1..n (with the gaps filled from the db) delivers 1..n exactly once, in order", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 2, max: 40 }).chain((n) =>
          fc.tuple(
            fc.constant(n),
            fc.shuffledSubarray(
              Array.from({ length: n - 1 }, (_, i) => i + 2),
              { minLength: 0 },
            ),
          ),
        ),
        async ([n, arrivals]) => {
          const db = new Map(Array.from({ length: n }, (_, i) => [i + 1, `m${i + 1}`] as const));
          const { o, delivered, fire, timers } = harness(db);
          o.offer("t", 1, "m1"); // baseline
          for (const s of arrivals) o.offer("t", s, `m${s}`);
          while (timers.some((t) => t.live)) await fire();
          const expectedLast = Math.max(1, ...arrivals);
          expect(delivered).toEqual(Array.from({ length: expectedLast }, (_, i) => `m${i + 1}`));
        },
      ),
      { numRuns: 300 },
    );
  });

  it("holds an unnumbered item behind the numbered ones offered before it, not behind later ones", async () => {
    const { o, delivered, fire } = harness(new Map([[2, "m2"]]));
    o.start("t", 1);
    o.after("t", "free"); // nothing waiting: at once
    o.offer("t", 1, "m1");
    o.offer("t", 3, "m3"); // 2 is missing: 3 waits
    o.after("t", "edit-3"); // an edit of 3 must not overtake it
    o.after("t", "edit-3b");
    o.offer("t", 4, "m4");
    o.after("t", "edit-4");
    expect(delivered).toEqual(["free", "m1"]);
    await fire(); // 2 is read from the database
    expect(delivered).toEqual(["free", "m1", "m2", "m3", "edit-3", "edit-3b", "m4", "edit-4"]);
    o.after("t", "later");
    expect(delivered.at(-1)).toBe("later");
  });
});
