/** The in-memory limiter: fixed windows opened by the first hit, bounded memory. */
import { describe, expect, it } from "vitest";
import { createMemoryRateLimiter } from "./rate-limit.js";

describe("memory rate limiter", () => {
  it("allows `limit` hits per window, then says when to retry", async () => {
    let t = 1_000;
    const limiter = createMemoryRateLimiter({ now: () => t });
    const rule = { limit: 2, windowMs: 10_000 };
    expect(await limiter.hit("a", rule)).toEqual({ ok: true });
    t += 4_000;
    expect(await limiter.hit("a", rule)).toEqual({ ok: true });
    expect(await limiter.hit("a", rule)).toEqual({ ok: false, retryAfterMs: 6_000 });
    expect(await limiter.hit("b", rule)).toEqual({ ok: true });
    t += 6_000;
    expect(await limiter.hit("a", rule)).toEqual({ ok: true });
  });

  it("keeps at most maxKeys windows", async () => {
    const t = 0;
    const limiter = createMemoryRateLimiter({ now: () => t, maxKeys: 3 });
    const rule = { limit: 1, windowMs: 1_000 };
    for (const k of ["a", "b", "c", "d"]) await limiter.hit(k, rule);
    // "a" was evicted to make room: it starts a fresh window.
    expect(await limiter.hit("a", rule)).toEqual({ ok: true });
    expect(await limiter.hit("d", rule)).toEqual({ ok: false, retryAfterMs: 1_000 });
  });
});
