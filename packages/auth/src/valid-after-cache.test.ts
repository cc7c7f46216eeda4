/** @module Tests: the valid-after cache (TTL, LRU bound, set/invalidate, the load race), with an injected clock. */
import { describe, expect, it, vi } from "vitest";
import { createAccessTokens } from "./access-token.js";
import { createValidAfterCache } from "./valid-after-cache.js";

const A = "4b2e1b0f-740d-411d-8133-dc9ab6640b5e";
const B = "9f0c2d4e-1111-4222-8333-444455556666";
const C = "00000000-0000-4000-8000-000000000003";

function setup(rows: Record<string, number | undefined> = {}, ttlMs = 1000, max = 100) {
  let t = 1_000_000;
  const load = vi.fn(async (userId: string) => rows[userId]);
  const cache = createValidAfterCache({ load, ttlMs, max, now: () => t });
  return { cache, load, rows, tick: (ms: number) => (t += ms) };
}

/** A load whose answer the test releases by hand, to stage races. */
function deferredLoad() {
  const pending: { userId: string; resolve: (v: number | undefined) => void; reject: (e: Error) => void }[] =
    [];
  const load = vi.fn(
    (userId: string) =>
      new Promise<number | undefined>((resolve, reject) => pending.push({ userId, resolve, reject })),
  );
  return { load, pending };
}

describe("createValidAfterCache", () => {
  it("loads once, then serves from cache until ttlMs has passed", async () => {
    const { cache, load, rows, tick } = setup({ [A]: 5 });
    await expect(cache.get(A)).resolves.toBe(5);
    rows[A] = 6;
    tick(999);
    await expect(cache.get(A)).resolves.toBe(5);
    expect(load).toHaveBeenCalledTimes(1);
    tick(1);
    await expect(cache.get(A)).resolves.toBe(6);
    expect(load).toHaveBeenCalledTimes(2);
  });

  it("caches 'never signed out' (undefined) too", async () => {
    const { cache, load } = setup();
    await expect(cache.get(A)).resolves.toBeUndefined();
    await expect(cache.get(A)).resolves.toBeUndefined();
    expect(load).toHaveBeenCalledTimes(1);
  });

  it("normalises user ids to lowercase", async () => {
    const { cache, load } = setup({ [A]: 5 });
    await cache.get(A.toUpperCase());
    await cache.get(A);
    expect(load).toHaveBeenCalledTimes(1);
    expect(load).toHaveBeenCalledWith(A);
  });

  it("invalidate makes the next get read the source again", async () => {
    const { cache, load, rows } = setup({ [A]: 5 });
    await cache.get(A);
    rows[A] = 7;
    cache.invalidate(A);
    await expect(cache.get(A)).resolves.toBe(7);
    expect(load).toHaveBeenCalledTimes(2);
  });

  it("set answers without a load, never lowers a value, and expires like a loaded entry", async () => {
    const { cache, load, rows, tick } = setup({ [A]: 1 });
    cache.set(A, 50);
    await expect(cache.get(A)).resolves.toBe(50);
    cache.set(A, 40); // an older event arriving late
    await expect(cache.get(A)).resolves.toBe(50);
    expect(load).not.toHaveBeenCalled();
    rows[A] = 60;
    tick(1000);
    await expect(cache.get(A)).resolves.toBe(60);
  });

  it("set after expiry takes the new value even if lower than the expired one", async () => {
    const { cache, tick } = setup();
    cache.set(A, 50);
    tick(1000);
    cache.set(A, 40);
    await expect(cache.get(A)).resolves.toBe(40);
  });

  it("coalesces concurrent loads of one user", async () => {
    const { load, pending } = deferredLoad();
    const cache = createValidAfterCache({ load, ttlMs: 1000, max: 10, now: () => 0 });
    const gets = [cache.get(A), cache.get(A), cache.get(A)];
    expect(load).toHaveBeenCalledTimes(1);
    pending[0]?.resolve(9);
    await expect(Promise.all(gets)).resolves.toEqual([9, 9, 9]);
  });

  it("race: a sign-out set while a load is in flight wins over the stale row", async () => {
    const { load, pending } = deferredLoad();
    const cache = createValidAfterCache({ load, ttlMs: 1000, max: 10, now: () => 0 });
    const inFlight = cache.get(A);
    cache.set(A, 77); // the bus event arrives before the DB read returns
    pending[0]?.resolve(undefined); // the row as it was before the sign-out
    await expect(inFlight).resolves.toBe(77);
    await expect(cache.get(A)).resolves.toBe(77);
    expect(load).toHaveBeenCalledTimes(1);
  });

  it("race: an invalidate while a load is in flight makes that caller read again", async () => {
    const { load, pending } = deferredLoad();
    const cache = createValidAfterCache({ load, ttlMs: 1000, max: 10, now: () => 0 });
    const inFlight = cache.get(A);
    cache.invalidate(A);
    pending[0]?.resolve(undefined); // stale: must not be cached nor trusted
    await vi.waitFor(() => expect(load).toHaveBeenCalledTimes(2));
    pending[1]?.resolve(88);
    await expect(inFlight).resolves.toBe(88);
    await expect(cache.get(A)).resolves.toBe(88);
  });

  it("does not cache a failed load, and the next get retries", async () => {
    const { load, pending } = deferredLoad();
    const cache = createValidAfterCache({ load, ttlMs: 1000, max: 10, now: () => 0 });
    const first = cache.get(A);
    pending[0]?.reject(new Error("db down"));
    await expect(first).rejects.toThrow("db down");
    const second = cache.get(A);
    pending[1]?.resolve(3);
    await expect(second).resolves.toBe(3);
    expect(cache.size).toBe(1);
  });

  it("keeps at most `max` entries, evicting the least recently used", async () => {
    const { cache, load } = setup({ [A]: 1, [B]: 2, [C]: 3 }, 1000, 2);
    await cache.get(A);
    await cache.get(B);
    await cache.get(A); // A is now more recent than B
    await cache.get(C); // evicts B
    expect(cache.size).toBe(2);
    load.mockClear();
    await cache.get(A);
    expect(load).not.toHaveBeenCalled();
    await cache.get(B);
    expect(load).toHaveBeenCalledWith(B);
  });

  it("clear empties it", async () => {
    const { cache } = setup({ [A]: 1 });
    await cache.get(A);
    cache.clear();
    expect(cache.size).toBe(0);
  });

  it("refuses nonsense options and times at construction", () => {
    const load = async () => undefined;
    expect(() => createValidAfterCache({ load, ttlMs: -1, max: 1 })).toThrow(/ttlMs/);
    expect(() => createValidAfterCache({ load, ttlMs: 1, max: 0 })).toThrow(/max/);
    expect(() => createValidAfterCache({ load, ttlMs: 1, max: 1 }).set(A, Number.NaN)).toThrow(/bad time/);
  });

  it("plugs into createAccessTokens: a bus-driven set revokes a live token at once", async () => {
    const { cache } = setup();
    const tokens = createAccessTokens({ secret: "x".repeat(32), requireExp: true, validAfter: cache.get });
    const now = new Date(1_700_000_000_000);
    const { token } = await tokens.issue(A, { now });
    await expect(tokens.verify(token, { now })).resolves.toMatchObject({ ok: true });
    cache.set(A, now.getTime() + 10); // sign-out everywhere, 10 ms later (same second)
    await expect(tokens.verify(token, { now })).resolves.toEqual({ ok: false, reason: "revoked" });
    const fresh = await tokens.issue(A, { now: new Date(now.getTime() + 20) });
    await expect(tokens.verify(fresh.token, { now })).resolves.toMatchObject({ ok: true });
  });
});
