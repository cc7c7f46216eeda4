/**
 * PROTOCOL.md §8 cases 8 and 10–20 with raw V2 (and V1) frames: heartbeat, join, events.
 * As in Phoenix's harness, the first join uses ref "1" and join_ref "11".
 *
 * Where the rest of §8 lives: 1–7 handshake.test.ts, 9 idle-timeout.test.ts, 22–30
 * binary-leave.test.ts; malformed frames bad-input.test.ts; §4 ordering ordering.test.ts; the
 * official client phoenix-client*.test.ts.
 * Not covered: 21 and 31–35 (LongPoll is out of scope), 36 (presence has its own issue), 4's
 * custom 429 handler and 7's path variables (see handshake.test.ts), 24's intercept (see
 * binary-leave.test.ts).
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { startTestServer, TEST_USER, type TestServer } from "../testing/test-server.js";
import { type SpyRouter, spyRouter } from "./fixtures.js";
import { closeAllClients, connect, reply } from "./wire-client.js";

let server: TestServer;
let limited: TestServer;
let spy: SpyRouter;

beforeAll(async () => {
  spy = spyRouter();
  server = await startTestServer({ router: spy.router });
  limited = await startTestServer({ router: spy.router, maxChannels: 1 });
});
afterAll(async () => {
  await server.close();
  await limited.close();
});
afterEach(closeAllClients);

const ok = (jr: string | null, ref: string, topic: string, response: object = {}) =>
  reply(jr, ref, topic, "ok", response);

describe("heartbeat (case 8)", () => {
  it("8: answered with no channel joined", async () => {
    const c = await connect(server.url);
    c.send([null, "1", "phoenix", "heartbeat", {}]);
    expect(await c.next()).toEqual([null, "1", "phoenix", "phx_reply", { status: "ok", response: {} }]);
  });
});

describe("join (cases 10–15)", () => {
  it("10: reply, then the channel's pushes, then broadcasts", async () => {
    const c = await connect(server.url);
    c.send(["11", "1", "room:lobby", "phx_join", {}]);
    expect(await c.nextN(3)).toEqual([
      ok("11", "1", "room:lobby"),
      ["11", null, "room:lobby", "joined", { status: "connected", user_id: TEST_USER }],
      [null, null, "room:lobby", "user_entered", { user: TEST_USER }],
    ]);
  });

  it("10: a join reply carries the channel's reply map", async () => {
    const c = await connect(server.url);
    expect(await c.join("room:r", "11", { reply_with: { hello: "you" } }, "1")).toEqual(
      ok("11", "1", "room:r", { hello: "you" }),
    );
  });

  it("11: unmatched topic, with join_ref null", async () => {
    const c = await connect(server.url);
    expect(await c.join("unmatched-topic", "11", {}, "1")).toEqual(
      reply(null, "1", "unmatched-topic", "error", { reason: "unmatched topic" }),
    );
  });

  it("12: a refused join gets the app's map, no phx_close, and the topic stays unjoined", async () => {
    const c = await connect(server.url);
    expect(await c.join("custom:ignore", "11", {}, "1")).toEqual(
      reply("11", "1", "custom:ignore", "error", { action: "ignore" }),
    );
    await c.fence();
    c.send(["11", "2", "custom:ignore", "anything", {}]);
    expect(await c.next()).toEqual(reply(null, "2", "custom:ignore", "error", { reason: "unmatched topic" }));
  });

  it("13: a crashing join callback gets join crashed", async () => {
    const c = await connect(server.url);
    expect(await c.join("custom:error", "12", {}, "2")).toEqual(
      reply("12", "2", "custom:error", "error", { reason: "join crashed" }),
    );
    expect(await c.join("room:crash", "13", { crash: true }, "3")).toEqual(
      reply("13", "3", "room:crash", "error", { reason: "join crashed" }),
    );
    await c.fence();
  });

  it("14: 100 channels join, the 101st gets too many channels joined", async () => {
    const c = await connect(server.url);
    for (let i = 1; i <= 100; i++) await c.joinRoom(`room:many-${i}`, String(i));
    expect(await c.join("room:many-101", "101")).toEqual(
      reply("101", "101", "room:many-101", "error", { reason: "too many channels joined" }),
    );
    // Leaving one frees a slot.
    c.send(["1", "102", "room:many-1", "phx_leave", {}]);
    await c.nextN(2);
    expect(await c.join("room:many-101", "103")).toEqual(ok("103", "103", "room:many-101"));
  });

  it("14: with a limit of 1, the second join fails; a duplicate join does not count", async () => {
    const c = await connect(limited.url);
    await c.joinRoom("room:one", "1");
    expect(await c.join("room:two", "2")).toEqual(
      reply("2", "2", "room:two", "error", { reason: "too many channels joined" }),
    );
    expect(await c.join("room:one", "3")).toEqual(ok("3", "3", "room:one"));
  });

  it("15: duplicate join: the new reply, THEN the old phx_close", async () => {
    const c = await connect(server.url);
    await c.joinRoom("room:dup", "11");
    c.send(["12", "2", "room:dup", "phx_join", {}]);
    expect(await c.nextN(2)).toEqual([ok("12", "2", "room:dup"), ["11", "11", "room:dup", "phx_close", {}]]);
    await c.nextN(2); // the new channel's joined push and user_entered
    // The new incarnation is live; the old join_ref is now stale.
    c.send(["12", "3", "room:dup", "echo", { n: 1 }]);
    expect(await c.next()).toEqual(ok("12", "3", "room:dup", { n: 1 }));
    c.send(["11", "4", "room:dup", "echo", { n: 2 }]);
    await c.fence();
  });
});

describe("events (cases 16–20)", () => {
  it("16: a reply, and the broadcast reaches every subscriber including the sender", async () => {
    const a = await connect(server.url);
    const b = await connect(server.url, { token: "user:00000000-0000-4000-8000-000000000002" });
    await a.joinRoom("room:16", "11");
    await b.joinRoom("room:16", "21");
    await a.next(); // b's user_entered
    a.send(["11", "2", "room:16", "new_msg", { body: "hi!" }]);
    const got = await a.nextN(2);
    expect(got).toContainEqual(ok("11", "2", "room:16"));
    expect(got).toContainEqual([null, null, "room:16", "new_msg", { body: "hi!" }]);
    expect(await b.next()).toEqual([null, null, "room:16", "new_msg", { body: "hi!" }]);
  });

  it("16: an error reply is status error with the app's response", async () => {
    const c = await connect(server.url);
    await c.joinRoom("room:err", "11");
    c.send(["11", "2", "room:err", "refuse", {}]);
    expect(await c.next()).toEqual(reply("11", "2", "room:err", "error", { reason: "nope" }));
  });

  it("17: noreply sends nothing back", async () => {
    const c = await connect(server.url);
    await c.joinRoom("room:17", "11");
    c.send(["11", "2", "room:17", "noreply", {}]);
    await c.fence();
    expect(spy.calls).toContain("room:17 noreply");
  });

  it("18: an event on an unjoined topic gets unmatched topic and runs no handler", async () => {
    const c = await connect(server.url);
    c.send(["11", "2", "room:x18", "new_msg", {}]);
    expect(await c.next()).toEqual(reply(null, "2", "room:x18", "error", { reason: "unmatched topic" }));
    expect(spy.calls.filter((s) => s.startsWith("room:x18"))).toEqual([]);
  });

  it("19: a stale join_ref is dropped silently and runs no handler", async () => {
    const c = await connect(server.url);
    await c.joinRoom("room:19", "11");
    c.send(["stale", "3", "room:19", "new_msg", {}]);
    await c.fence();
    expect(spy.calls.filter((s) => s.startsWith("room:19"))).toEqual([]);
  });

  it("20: join_ref null (V2) is accepted", async () => {
    const c = await connect(server.url);
    await c.joinRoom("room:20", "11");
    c.send([null, "2", "room:20", "echo", { a: 1 }]);
    expect(await c.next()).toEqual(ok("11", "2", "room:20", { a: 1 }));
  });

  it("20: join_ref absent (V1) is accepted; a V1 join without join_ref accepts any join_ref", async () => {
    const c = await connect(server.url, { vsn: null });
    c.send({ topic: "room:v1", event: "phx_join", payload: {}, ref: "1", join_ref: "1" });
    await c.nextN(3);
    c.send({ topic: "room:v1", event: "echo", payload: { a: 1 }, ref: "2" });
    const v1ok = (ref: string, response: object) => ({
      topic: "room:v1",
      event: "phx_reply",
      payload: { status: "ok", response },
      ref,
    });
    expect(await c.next()).toEqual(v1ok("2", { a: 1 }));
    c.send({ topic: "room:v1", event: "echo", payload: {}, ref: "3", join_ref: "stale" });
    await c.fence();
    // Joined without a join_ref, the channel has none to compare with (Phoenix: existing nil).
    c.send({ topic: "room:v1b", event: "phx_join", payload: {}, ref: "4" });
    await c.nextN(3);
    c.send({ topic: "room:v1b", event: "echo", payload: { b: 2 }, ref: "5", join_ref: "4" });
    expect(await c.next()).toEqual({ ...v1ok("5", { b: 2 }), topic: "room:v1b" });
  });

  it("numeric refs are echoed as numbers", async () => {
    const c = await connect(server.url);
    c.send([null, 7, "phoenix", "heartbeat", {}]);
    expect(await c.next()).toEqual([null, 7, "phoenix", "phx_reply", { status: "ok", response: {} }]);
  });
});
