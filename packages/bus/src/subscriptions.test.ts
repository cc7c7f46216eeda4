/** @module Subscription reconciling against a fake broker whose acks the test releases by hand. */
import { describe, expect, it, vi } from "vitest";
import { createSubscriptions, type SubscriptionTransport } from "./subscriptions.js";

interface Call {
  op: "sub" | "unsub";
  topics: string[];
  ack(): void;
  fail(err: Error): void;
}

function setup() {
  const calls: Call[] = [];
  const held = new Set<string>();
  const synced: boolean[] = [];
  const request = (op: Call["op"]) => (topics: string[]) =>
    new Promise<void>((resolve, reject) => calls.push({ op, topics, ack: resolve, fail: reject }));
  const transport: SubscriptionTransport = {
    subscribe: request("sub"),
    unsubscribe: request("unsub"),
    isConnectionError: (err) => err instanceof Error && err.message === "connection lost",
  };
  const logger = { warn: vi.fn(), error: vi.fn() };
  const subs = createSubscriptions({
    transport,
    wanted: (t) => held.has(t),
    wantedTopics: () => held,
    onSyncedChange: (s) => synced.push(s),
    logger,
  });
  /** Lets every pending microtask and promise continuation run. */
  const settle = () => new Promise((resolve) => setImmediate(resolve));
  const state = <T>(p: Promise<T>) => {
    const s = { done: false, failed: undefined as unknown };
    p.then(
      () => (s.done = true),
      (e: unknown) => (s.failed = e),
    );
    return s;
  };
  const ops = () => calls.map((c) => `${c.op} ${c.topics.join(",")}`);
  return { calls, held, synced, subs, logger, settle, state, ops };
}

describe("subscriptions", () => {
  it("want resolves only after the broker acknowledges; one tick's wants go as one command", async () => {
    const { calls, held, subs, settle, state, ops } = setup();
    subs.connected();
    for (const t of ["a", "b", "c"]) held.add(t);
    const wants = ["a", "b", "c"].map((t) => state(subs.want(t)));
    await settle();
    expect(ops()).toEqual(["sub a,b,c"]);
    expect(wants.some((w) => w.done)).toBe(false);
    calls[0]!.ack();
    await settle();
    expect(wants.every((w) => w.done)).toBe(true);
    expect(subs.isLive("b")).toBe(true);
  });

  it("sub → unsub → sub while the SUBSCRIBE is in flight ends subscribed with one command", async () => {
    const { calls, held, subs, settle, state, ops } = setup();
    subs.connected();
    held.add("t");
    const first = state(subs.want("t"));
    await settle();
    held.delete("t");
    const release = state(subs.release("t"));
    held.add("t");
    const second = state(subs.want("t"));
    calls[0]!.ack();
    await settle();
    expect(ops()).toEqual(["sub t"]);
    expect([first.done, release.done, second.done]).toEqual([true, true, true]);
    expect(subs.isLive("t")).toBe(true);
  });

  it("a release during an in-flight SUBSCRIBE unsubscribes after the ack", async () => {
    const { calls, held, subs, settle, state, ops } = setup();
    subs.connected();
    held.add("t");
    const want = state(subs.want("t"));
    await settle();
    held.delete("t");
    const release = state(subs.release("t"));
    calls[0]!.ack();
    await settle();
    expect(ops()).toEqual(["sub t", "unsub t"]);
    expect(release.done).toBe(false);
    calls[1]!.ack();
    await settle();
    expect([want.done, release.done, subs.isLive("t")]).toEqual([true, true, false]);
  });

  it("a want during an in-flight UNSUBSCRIBE subscribes again after the ack", async () => {
    const { calls, held, subs, settle, state, ops } = setup();
    subs.connected();
    held.add("t");
    void subs.want("t");
    await settle();
    calls[0]!.ack();
    held.delete("t");
    void subs.release("t");
    await settle();
    held.add("t");
    const want = state(subs.want("t"));
    calls[1]!.ack();
    await settle();
    expect(ops()).toEqual(["sub t", "unsub t", "sub t"]);
    expect(want.done).toBe(false);
    calls[2]!.ack();
    await settle();
    expect(want.done).toBe(true);
  });

  it("waits across a disconnect and resubscribes every held topic on reconnect, ignoring stale acks", async () => {
    const { calls, held, synced, subs, settle, state, ops } = setup();
    subs.connected();
    await settle();
    held.add("old");
    void subs.want("old");
    await settle();
    calls[0]!.ack();
    await settle();
    held.add("new");
    const want = state(subs.want("new"));
    await settle();
    subs.disconnected();
    calls[1]!.ack(); // reply to a command on the dead connection: must not mark "new" live
    await settle();
    expect([subs.isLive("new"), subs.isLive("old"), want.done, subs.isSynced()]).toEqual([
      false,
      false,
      false,
      false,
    ]);
    expect(await subs.release("gone")).toBeUndefined(); // nothing to do while down
    subs.connected();
    await settle();
    expect(ops().at(-1)).toBe("sub old,new");
    expect(subs.isSynced()).toBe(false);
    calls.at(-1)!.ack();
    await settle();
    expect([want.done, subs.isSynced(), subs.isLive("old")]).toEqual([true, true, true]);
    expect(synced).toEqual([true, false, true]);
  });

  it("a refused subscribe rejects the waiting want and logs", async () => {
    const { calls, held, subs, logger, settle, state } = setup();
    subs.connected();
    held.add("t");
    const want = state(subs.want("t"));
    await settle();
    calls[0]!.fail(new Error("NOPERM"));
    await settle();
    expect(want.failed).toEqual(new Error("NOPERM"));
    expect(subs.isLive("t")).toBe(false);
    expect(logger.error).toHaveBeenCalledOnce();
  });

  it("a subscribe lost with its connection keeps the want waiting for the reconnect", async () => {
    const { calls, held, subs, logger, settle, state, ops } = setup();
    subs.connected();
    held.add("t");
    const want = state(subs.want("t"));
    await settle();
    calls[0]!.fail(new Error("connection lost"));
    await settle();
    expect([want.done, want.failed, logger.error.mock.calls.length]).toEqual([false, undefined, 0]);
    subs.disconnected();
    subs.connected();
    await settle();
    expect(ops()).toEqual(["sub t", "sub t"]);
    calls[1]!.ack();
    await settle();
    expect(want.done).toBe(true);
  });

  it("a want abandoned by its handler is rejected rather than left hanging", async () => {
    const { calls, held, subs, settle, state } = setup();
    subs.connected();
    held.add("t");
    const want = state(subs.want("t"));
    held.delete("t");
    await settle();
    expect(calls).toHaveLength(0);
    expect(String(want.failed)).toMatch(/released before/);
  });

  it("close rejects pending wants and refuses new ones", async () => {
    const { held, subs, settle, state } = setup();
    held.add("t");
    const want = state(subs.want("t"));
    subs.close();
    await settle();
    expect(String(want.failed)).toMatch(/closed/);
    await expect(subs.want("u")).rejects.toThrow(/closed/);
    await expect(subs.release("t")).resolves.toBeUndefined();
  });
});
