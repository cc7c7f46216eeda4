/**
 * PROTOCOL.md §8 cases 22–30: binary frames, broadcast_from, leave, close, crash, disconnect.
 *
 * Skipped: case 24's intercepted broadcast (`intercept` + `handle_out`): ChannelHandler has no
 * per-socket outgoing hook, so every broadcast takes the encode-once fastlane.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { protocolTestRouter } from "../testing/protocol-channels.js";
import { startTestServer, type TestServer } from "../testing/test-server.js";
import { closeAllClients, connect, reply } from "./wire-client.js";

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ router: protocolTestRouter() });
});
afterAll(() => server.close());
afterEach(closeAllClients);

const USER_2 = "00000000-0000-4000-8000-000000000002";
const ascii = (s: string) => Buffer.from(s, "utf8");
const bytes = (...parts: Array<number[] | string>) =>
  new Uint8Array(Buffer.concat(parts.map((p) => (typeof p === "string" ? ascii(p) : Buffer.from(p)))));
const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");

describe("binary (cases 22–23)", () => {
  it("22: a binary push gets a byte-exact binary reply and push", async () => {
    const c = await connect(server.url);
    await c.joinRoom("room:bin", "11");
    c.sendRaw(bytes([0, 2, 1, 8, 12], "11", "2", "room:bin", "binary_event", [1, 2]), true);
    const got = [hex(await c.nextBinary()), hex(await c.nextBinary())];
    // The channel pushes before it replies; Phoenix's test does not fix the order either.
    expect(got.sort()).toEqual(
      [
        hex(bytes([1, 2, 1, 8, 2], "11", "2", "room:bin", "ok", [1, 2, 3, 4])),
        hex(bytes([0, 2, 8, 12], "11", "room:bin", "binary_event", [0, 1])),
      ].sort(),
    );
  });

  it("23: a binary broadcast is kind 2; V1 subscribers cannot receive it and do not", async () => {
    const c = await connect(server.url);
    const v1 = await connect(server.url, { vsn: null });
    await c.joinRoom("room:b23", "11");
    v1.send({ topic: "room:b23", event: "phx_join", payload: {}, ref: "1", join_ref: "1" });
    await v1.nextN(3);
    await c.next(); // v1's user_entered
    c.send(["11", "2", "room:b23", "binary_broadcast", {}]);
    const frames = [await c.nextRaw(), await c.nextRaw()];
    const bin = frames.find((f) => f.binary);
    expect(bin?.binary && hex(bin.bytes)).toBe(hex(bytes([2, 8, 3], "room:b23", "bin", [9, 8, 7])));
    expect(frames.find((f) => !f.binary)).toMatchObject({ json: reply("11", "2", "room:b23", "ok") });
    await v1.fence();
  });

  it("23: a broadcast payload that is neither a map nor binary is a server error (channel crash)", async () => {
    const c = await connect(server.url);
    await c.joinRoom("room:b23bad", "11");
    c.send(["11", "2", "room:b23bad", "bad_broadcast", {}]);
    expect(await c.next()).toEqual(["11", "11", "room:b23bad", "phx_error", { reason: "channel_crash" }]);
  });
});

describe("broadcast_from (case 24)", () => {
  it("24: broadcast_from reaches the others but not the sender", async () => {
    const a = await connect(server.url);
    const b = await connect(server.url, { token: `user:${USER_2}` });
    await a.joinRoom("room:24", "11");
    await b.joinRoom("room:24", "21");
    await a.next(); // b's user_entered
    a.send(["11", "2", "room:24", "broadcast_from", { x: 1 }]);
    expect(await a.next()).toEqual(reply("11", "2", "room:24", "ok"));
    expect(await b.next()).toEqual([null, null, "room:24", "from_other", { x: 1 }]);
    await a.fence();
  });
});

describe("leave, close and error (cases 25–30)", () => {
  it("25: leave → reply, then phx_close, then the topic is unmatched", async () => {
    const c = await connect(server.url);
    await c.joinRoom("room:25", "11");
    c.send(["11", "3", "room:25", "phx_leave", {}]);
    expect(await c.nextN(2)).toEqual([
      reply("11", "3", "room:25", "ok"),
      ["11", "11", "room:25", "phx_close", {}],
    ]);
    c.send(["11", "4", "room:25", "echo", {}]);
    expect(await c.next()).toEqual(reply(null, "4", "room:25", "error", { reason: "unmatched topic" }));
  });

  it("26: a stale leave is ignored; a leave without join_ref is accepted", async () => {
    const c = await connect(server.url);
    await c.joinRoom("room:26", "1");
    c.send(["stale", "2", "room:26", "phx_leave", {}]);
    await c.fence();
    c.send(["1", "3", "room:26", "echo", {}]);
    expect(await c.next()).toEqual(reply("1", "3", "room:26", "ok"));
    c.send([null, "4", "room:26", "phx_leave", {}]);
    expect(await c.nextN(2)).toEqual([
      reply("1", "4", "room:26", "ok"),
      ["1", "1", "room:26", "phx_close", {}],
    ]);
  });

  it("27: leaving a topic never joined → ok {} with the sent join_ref, and no phx_close", async () => {
    const c = await connect(server.url);
    c.send(["9", "1", "room:never", "phx_leave", {}]);
    expect(await c.next()).toEqual(reply("9", "1", "room:never", "ok"));
    await c.fence();
  });

  it("28: a raising handler → phx_error channel_crash, and the topic is unjoined", async () => {
    const c = await connect(server.url);
    for (const [event, topic] of [
      ["boom", "room:28"],
      ["async_boom", "room:28a"],
    ] as const) {
      await c.joinRoom(topic, "11");
      c.send(["11", "2", topic, event, {}]);
      expect(await c.next()).toEqual(["11", "11", topic, "phx_error", { reason: "channel_crash" }]);
      c.send(["11", "3", topic, "echo", {}]);
      expect(await c.next()).toEqual(reply(null, "3", topic, "error", { reason: "unmatched topic" }));
    }
  });

  it("29: a channel that stops → phx_close", async () => {
    const c = await connect(server.url);
    await c.joinRoom("room:29", "11");
    c.send(["11", "2", "room:29", "stop", {}]);
    expect(await c.next()).toEqual(["11", "11", "room:29", "phx_close", {}]);
    c.send(["11", "3", "room:29", "echo", {}]);
    expect(await c.next()).toEqual(reply(null, "3", "room:29", "error", { reason: "unmatched topic" }));
  });

  it("V1 join without join_ref: phx_close and phx_error carry ref null", async () => {
    const c = await connect(server.url, { vsn: null });
    for (const [event, control] of [
      ["stop", "phx_close"],
      ["boom", "phx_error"],
    ] as const) {
      c.send({ topic: "room:v1x", event: "phx_join", payload: {}, ref: "1" });
      await c.nextN(3);
      c.send({ topic: "room:v1x", event, payload: {}, ref: "2" });
      const payload = control === "phx_error" ? { reason: "channel_crash" } : {};
      expect(await c.next()).toEqual({ topic: "room:v1x", event: control, payload, ref: null });
    }
  });

  it("30: disconnectUser closes the user's sockets with 1001 and terminates their channels", async () => {
    const user = "00000000-0000-4000-8000-000000000030";
    const gone = await connect(server.url, { token: `user:${user}` });
    const gone2 = await connect(server.url, { token: `user:${user}` });
    const watcher = await connect(server.url, { token: `user:${USER_2}` });
    await watcher.joinRoom("room:30", "1");
    await gone.joinRoom("room:30", "1", { announce: true });
    // broadcast_from during the socket's first join, before it holds any uWS subscription.
    expect(await watcher.nextN(2)).toEqual([
      [null, null, "room:30", "announce", { user }],
      [null, null, "room:30", "user_entered", { user }],
    ]);
    expect(server.gateway.disconnectUser(user)).toBe(2);
    expect((await gone.closed).code).toBe(1001);
    expect((await gone2.closed).code).toBe(1001);
    // The channel's terminate ran (reason "closed") and its broadcast_from reached the others.
    expect(await watcher.next()).toEqual([null, null, "room:30", "left", { user, reason: "closed" }]);
    expect(server.gateway.disconnectUser(user)).toBe(0);
  });
});
