/**
 * The official `phoenix` JS client (1.8.16, V2 by default) against the gateway: connect with
 * `params.token` or the `authToken` subprotocol, join ok/error/timeout, push replies, broadcasts,
 * leave, duplicate joins as the client sees them, heartbeats and reconnects.
 * V1 and binary through the same client are in phoenix-client-v1.test.ts.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { protocolTestRouter } from "../testing/protocol-channels.js";
import { startTestServer, type TestServer } from "../testing/test-server.js";
import {
  collect,
  connected,
  disconnectAll,
  outcome,
  outcomes,
  phoenixSocket,
  transportOf,
} from "./phoenix-driver.js";
import { waitFor } from "./wire-client.js";

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ router: protocolTestRouter() });
});
afterAll(() => server.close());
afterEach(disconnectAll);

describe("connect", () => {
  it("with params.token, over V2", async () => {
    const socket = phoenixSocket(server.url);
    socket.connect();
    await connected(socket);
    expect(transportOf(socket)?.url).toContain("vsn=2.0.0");
    const ch = socket.channel("room:pc-connect", { reply_with: { hello: "phoenix" } });
    expect(await outcome(ch.join())).toEqual({ status: "ok", response: { hello: "phoenix" } });
  });

  it("with the authToken option: the token rides the subprotocol and `phoenix` is echoed", async () => {
    const socket = phoenixSocket(server.url, { params: {}, authToken: "good" });
    socket.connect();
    await connected(socket);
    // `ws` fails the handshake if protocols were offered and none is echoed.
    expect(transportOf(socket)?.protocol).toBe("phoenix");
    expect(await outcome(socket.channel("room:pc-auth").join())).toMatchObject({ status: "ok" });
  });

  it("a refused token: onError, never open", async () => {
    const socket = phoenixSocket(server.url, {
      params: {},
      authToken: "bad",
      reconnectAfterMs: () => 60_000,
    });
    const errors: unknown[] = [];
    let opened = false;
    socket.onError((e) => void errors.push(e));
    socket.onOpen(() => {
      opened = true;
    });
    socket.connect();
    await waitFor(() => errors.length > 0, "onError");
    expect(opened).toBe(false);
  });
});

describe("join", () => {
  it("error paths: refused by the app, join crashed, unmatched topic", async () => {
    const socket = phoenixSocket(server.url, { rejoinAfterMs: () => 60_000 });
    socket.connect();
    const cases: Array<[string, object, unknown]> = [
      ["room:pc-refuse", { refuse: "no" }, { reason: "refused", detail: "no" }],
      ["custom:error", {}, { reason: "join crashed" }],
      ["nowhere:1", {}, { reason: "unmatched topic" }],
    ];
    for (const [topic, params, response] of cases) {
      const ch = socket.channel(topic, params);
      expect(await outcome(ch.join())).toEqual({ status: "error", response });
      expect(ch.state).toBe("errored");
      ch.leave();
    }
  });

  it("a join timeout: the client leaves and rejoins, and the rejoin succeeds", async () => {
    const socket = phoenixSocket(server.url, { rejoinAfterMs: () => 150 });
    socket.connect();
    let attempt = 0;
    // Params are re-read on every (re)join: only the first join is slow.
    const ch = socket.channel("room:pc-timeout", () => ({ delay_ms: attempt++ === 0 ? 150 : 0 }));
    const seen = outcomes(ch.join(50));
    await waitFor(() => seen.some((o) => o.status === "ok"), "the rejoin");
    // Usually one timeout. The server holds the socket's frames while a join runs (as Phoenix
    // does), so on a slow machine a rejoin can time out behind the first join too.
    const statuses = seen.map((o) => o.status);
    expect(statuses.at(-1)).toBe("ok");
    expect(statuses.slice(0, -1)).toEqual(statuses.slice(0, -1).map(() => "timeout"));
    expect(statuses.length).toBeGreaterThanOrEqual(2);
    expect(await outcome(ch.push("echo", { after: "rejoin" }))).toEqual({
      status: "ok",
      response: { after: "rejoin" },
    });
  });
});

describe("push, broadcast, leave", () => {
  it("push replies: ok, error, and a client-side timeout for noreply", async () => {
    const socket = phoenixSocket(server.url);
    socket.connect();
    const ch = socket.channel("room:pc-push");
    await outcome(ch.join());
    expect(await outcome(ch.push("echo", { a: 1 }))).toEqual({ status: "ok", response: { a: 1 } });
    expect(await outcome(ch.push("refuse", {}))).toEqual({ status: "error", response: { reason: "nope" } });
    expect(await outcome(ch.push("noreply", {}, 100))).toEqual({ status: "timeout", response: {} });
  });

  it("channel.on receives pushes and broadcasts; broadcast_from skips the sender", async () => {
    const a = phoenixSocket(server.url);
    const b = phoenixSocket(server.url, { params: { token: "user:00000000-0000-4000-8000-0000000000cb" } });
    a.connect();
    b.connect();
    const ca = a.channel("room:pc-bcast");
    const cb = b.channel("room:pc-bcast");
    const joined = collect(ca, "joined");
    const [aMsgs, bMsgs, aFrom, bFrom] = [
      collect(ca, "new_msg"),
      collect(cb, "new_msg"),
      collect(ca, "from_other"),
      collect(cb, "from_other"),
    ];
    await outcome(ca.join());
    await outcome(cb.join());
    await waitFor(() => joined.length === 1, "the joined push");
    await outcome(ca.push("new_msg", { body: "hi" }));
    await waitFor(() => bMsgs.length === 1 && aMsgs.length === 1, "the broadcast on both sockets");
    expect(bMsgs).toEqual([{ body: "hi" }]);
    await outcome(ca.push("broadcast_from", { x: 1 }));
    await waitFor(() => bFrom.length === 1, "broadcast_from on the other socket");
    await outcome(ca.push("echo", {})); // everything for `a` before this reply has arrived
    expect(aFrom).toEqual([]);
  });

  it("leave: ok, onClose, and the server has unsubscribed the channel", async () => {
    const socket = phoenixSocket(server.url);
    const other = phoenixSocket(server.url, {
      params: { token: "user:00000000-0000-4000-8000-0000000000cc" },
    });
    socket.connect();
    other.connect();
    const ch = socket.channel("room:pc-leave");
    const oc = other.channel("room:pc-leave");
    const got = collect(ch, "new_msg");
    let closed = 0;
    ch.onClose(() => void closed++);
    await outcome(ch.join());
    await outcome(oc.join());
    expect(await outcome(ch.leave())).toEqual({ status: "ok", response: {} });
    expect(closed).toBe(1);
    expect(ch.state).toBe("closed");
    await outcome(oc.push("new_msg", { body: "after leave" }));
    const again = socket.channel("room:pc-leave-fence");
    await outcome(again.join()); // a round trip on the socket after the broadcast
    expect(got).toEqual([]);
  });
});

describe("duplicate joins as the client sees them", () => {
  it("a second channel object on the topic: the client leaves the first, the second gets each broadcast once", async () => {
    const socket = phoenixSocket(server.url);
    socket.connect();
    const first = socket.channel("room:pc-dup");
    const second = socket.channel("room:pc-dup");
    let firstClosed = 0;
    first.onClose(() => void firstClosed++);
    const [firstMsgs, secondMsgs] = [collect(first, "new_msg"), collect(second, "new_msg")];
    await outcome(first.join());
    await outcome(second.join());
    expect(firstClosed).toBe(1);
    await outcome(second.push("new_msg", { n: 1 }));
    await waitFor(() => secondMsgs.length === 1, "the broadcast");
    await outcome(second.push("echo", {}));
    expect([firstMsgs, secondMsgs]).toEqual([[], [{ n: 1 }]]);
  });

  it("a server-side duplicate join: new reply first, then the old phx_close, which closes the old channel", async () => {
    const socket = phoenixSocket(server.url);
    socket.connect();
    const ch = socket.channel("room:pc-dup2");
    let closed = 0;
    ch.onClose(() => void closed++);
    await outcome(ch.join());
    const wire: Array<{ event: string; ref: string | null; join_ref: string | null }> = [];
    socket.onMessage((m) => void wire.push(m as (typeof wire)[number]));
    const ref = socket.makeRef();
    socket.push({ topic: "room:pc-dup2", event: "phx_join", payload: {}, ref, join_ref: ref });
    await waitFor(() => closed === 1, "the old channel's close");
    expect(wire.slice(0, 2).map((m) => [m.event, m.ref])).toEqual([
      ["phx_reply", ref],
      ["phx_close", wire[1]?.join_ref],
    ]);
  });
});

describe("heartbeat and reconnect", () => {
  it("heartbeats round-trip and keep the socket open", async () => {
    const socket = phoenixSocket(server.url, { heartbeatIntervalMs: 30 });
    const beats: unknown[] = [];
    let closes = 0;
    socket.onClose(() => void closes++);
    socket.onMessage((m) => {
      if ((m as { topic: string }).topic === "phoenix") beats.push(m);
    });
    socket.connect();
    await waitFor(() => beats.length >= 3, "three heartbeat replies");
    expect(beats[0]).toMatchObject({ event: "phx_reply", payload: { status: "ok", response: {} } });
    const rtt = await new Promise<number>((resolve) => socket.ping(resolve));
    expect(rtt).toBeGreaterThanOrEqual(0);
    expect(closes).toBe(0);
  });

  it("after a server close (1001) the client reconnects and its channels rejoin", async () => {
    const user = "00000000-0000-4000-8000-0000000000ec";
    const socket = phoenixSocket(server.url, { params: { token: `user:${user}` } });
    const closeCodes: number[] = [];
    socket.onClose((e) => void closeCodes.push(e.code));
    socket.connect();
    const ch = socket.channel("room:pc-reconnect");
    const seen = outcomes(ch.join());
    await waitFor(() => seen.length === 1, "the join");
    expect(server.gateway.disconnectUser(user)).toBe(1);
    await waitFor(() => seen.length === 2, "the rejoin");
    expect(closeCodes).toEqual([1001]);
    expect(seen.map((o) => o.status)).toEqual(["ok", "ok"]);
    expect(await outcome(ch.push("echo", { back: true }))).toEqual({
      status: "ok",
      response: { back: true },
    });
  });

  it("a crashed channel (phx_error) rejoins by itself; a stopped one (phx_close) does not", async () => {
    const socket = phoenixSocket(server.url);
    socket.connect();
    const crashy = socket.channel("room:pc-crash");
    const seen = outcomes(crashy.join());
    let errors = 0;
    crashy.onError(() => void errors++);
    await waitFor(() => seen.length === 1, "the join");
    crashy.push("boom", {});
    await waitFor(() => seen.length === 2, "the rejoin after phx_error");
    expect(errors).toBe(1);
    const stopping = socket.channel("room:pc-stop");
    await outcome(stopping.join());
    let closed = 0;
    stopping.onClose(() => void closed++);
    stopping.push("stop", {});
    await waitFor(() => closed === 1, "phx_close");
    expect(stopping.state).toBe("closed");
  });
});
