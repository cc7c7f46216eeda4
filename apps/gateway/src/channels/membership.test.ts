/** @module Tests: the membership cache (TTL, shared reads, invalidation, the bound), over a fake read. */
import type { Db } from "@nexus/db";
import { beforeEach, describe, expect, it, vi } from "vitest";
import { createMembership } from "./membership.js";

const reads = vi.hoisted(() => ({
  pending: [] as {
    conversationId: string;
    userId: string;
    resolve(v: boolean): void;
    reject(e: Error): void;
  }[],
}));
vi.mock("@nexus/db", () => ({
  isMember: (_db: unknown, conversationId: string, userId: string) =>
    new Promise<boolean>((resolve, reject) =>
      reads.pending.push({ conversationId, userId, resolve, reject }),
    ),
}));

const db = {} as Db;
const settle = () => new Promise((r) => setTimeout(r, 0));

function setup(opts: { ttlMs?: number; max?: number } = {}) {
  let t = 1_000_000;
  const m = createMembership(db, { ttlMs: 1000, ...opts, now: () => t });
  /** Answers every read under way. */
  const answer = async (member: (c: string, u: string) => boolean) => {
    for (const r of reads.pending.splice(0)) r.resolve(member(r.conversationId, r.userId));
    await settle();
  };
  return { m, answer, tick: (ms: number) => (t += ms) };
}

beforeEach(() => {
  reads.pending.length = 0;
});

describe("createMembership", () => {
  it("reads once per pair, shares a read under way, and answers from memory until ttlMs", async () => {
    const { m, answer, tick } = setup();
    const both = [m.isMember("c1", "u1"), m.isMember("c1", "u1"), m.isMember("c1", "u2")];
    await settle();
    expect(reads.pending.map((r) => r.userId)).toEqual(["u1", "u2"]);
    await answer((_c, u) => u === "u1");
    expect(await Promise.all(both)).toEqual([true, true, false]);
    tick(999);
    expect([await m.isMember("c1", "u1"), await m.isMember("c1", "u2")]).toEqual([true, false]);
    expect(reads.pending).toHaveLength(0);
    tick(1);
    const again = m.isMember("c1", "u1");
    await settle();
    expect(reads.pending).toHaveLength(1);
    await answer(() => false);
    expect(await again).toBe(false);
  });

  it("invalidates a pair or a whole conversation", async () => {
    const { m, answer } = setup();
    void m.isMember("c1", "u1");
    void m.isMember("c1", "u2");
    void m.isMember("c2", "u1");
    await settle();
    await answer(() => true);
    m.invalidate("c1", "u1");
    void m.isMember("c1", "u1");
    void m.isMember("c1", "u2");
    void m.isMember("c2", "u1");
    await settle();
    expect(reads.pending.map((r) => `${r.conversationId}|${r.userId}`)).toEqual(["c1|u1"]);
    await answer(() => true);
    m.invalidate("c1");
    void m.isMember("c1", "u1");
    void m.isMember("c1", "u2");
    void m.isMember("c2", "u1");
    await settle();
    expect(reads.pending.map((r) => `${r.conversationId}|${r.userId}`)).toEqual(["c1|u1", "c1|u2"]);
  });

  it("a read that an invalidation raced is not answered: the pair is read again", async () => {
    const { m, answer } = setup();
    const joining = m.isMember("c1", "u1");
    await settle();
    m.invalidate("c1", "u1"); // the member was removed while the first read was under way
    await answer(() => true); // what the first read saw, before the removal
    expect(reads.pending.map((r) => `${r.conversationId}|${r.userId}`)).toEqual(["c1|u1"]);
    await answer(() => false);
    expect(await joining).toBe(false);
    await m.isMember("c1", "u1");
    expect(reads.pending).toHaveLength(0);
  });

  it("does not keep a failed read", async () => {
    const { m, answer } = setup();
    const first = m.isMember("c1", "u1");
    await settle();
    reads.pending.shift()!.reject(new Error("db down"));
    await expect(first).rejects.toThrow("db down");
    const second = m.isMember("c1", "u1");
    await settle();
    await answer(() => true);
    expect(await second).toBe(true);
  });

  it("keeps at most `max` answers, dropping the least recently used", async () => {
    const { m, answer } = setup({ max: 2 });
    void m.isMember("c1", "u1");
    void m.isMember("c2", "u2");
    await settle();
    await answer(() => true);
    await m.isMember("c1", "u1"); // c1 is now the most recently used
    void m.isMember("c3", "u3"); // over the bound: c2's answer goes
    await settle();
    await answer(() => true);
    void m.isMember("c1", "u1");
    void m.isMember("c3", "u3");
    void m.isMember("c2", "u2");
    await settle();
    expect(reads.pending.map((r) => r.conversationId)).toEqual(["c2"]);
  });
});
