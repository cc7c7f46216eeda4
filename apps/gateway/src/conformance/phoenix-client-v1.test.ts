/**
 * The official JS client over V1 (its `vsn`, `encode` and `decode` options with a JSON-object
 * codec, as non-JS clients speak it), and V2 binary payloads through its built-in serializer.
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
  v1Codec,
} from "./phoenix-driver.js";
import { waitFor } from "./wire-client.js";

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ router: protocolTestRouter() });
});
afterAll(() => server.close());
afterEach(disconnectAll);

describe("V1 through the official client", () => {
  it("join, push replies, pushes and broadcasts, leave", async () => {
    const v1 = phoenixSocket(server.url, v1Codec);
    const v2 = phoenixSocket(server.url, { params: { token: "user:00000000-0000-4000-8000-0000000000d2" } });
    v1.connect();
    v2.connect();
    await connected(v1);
    const ch = v1.channel("room:v1-client");
    const other = v2.channel("room:v1-client");
    const [joined, msgs, fromOther] = [
      collect(ch, "joined"),
      collect(ch, "new_msg"),
      collect(ch, "from_other"),
    ];
    expect(await outcome(ch.join())).toEqual({ status: "ok", response: {} });
    await waitFor(() => joined.length === 1, "the joined push");
    expect(await outcome(ch.push("echo", { v: 1 }))).toEqual({ status: "ok", response: { v: 1 } });
    expect(await outcome(ch.push("refuse", {}))).toEqual({ status: "error", response: { reason: "nope" } });
    await outcome(other.join());
    // Broadcasts from a V2 socket reach the V1 one in V1 form, and the reverse.
    await outcome(other.push("new_msg", { from: "v2" }));
    await outcome(other.push("broadcast_from", { from: "v2" }));
    await waitFor(() => msgs.length === 1 && fromOther.length === 1, "the V2 socket's broadcasts");
    expect(msgs).toEqual([{ from: "v2" }]);
    const otherMsgs = collect(other, "new_msg");
    await outcome(ch.push("new_msg", { from: "v1" }));
    await waitFor(() => otherMsgs.length === 1, "the V1 socket's broadcast");
    expect(await outcome(ch.leave())).toEqual({ status: "ok", response: {} });
    expect(ch.state).toBe("closed");
  });

  it("heartbeats and reconnect over V1", async () => {
    const user = "00000000-0000-4000-8000-0000000000d3";
    const socket = phoenixSocket(server.url, {
      ...v1Codec,
      params: { token: `user:${user}` },
      heartbeatIntervalMs: 30,
    });
    let beats = 0;
    socket.onMessage((m) => {
      if ((m as { topic: string }).topic === "phoenix") beats++;
    });
    socket.connect();
    const ch = socket.channel("room:v1-reconnect");
    const seen = outcomes(ch.join());
    await waitFor(() => seen.length === 1 && beats >= 2, "the join and two heartbeats");
    server.gateway.disconnectUser(user);
    await waitFor(() => seen.length === 2, "the rejoin");
    expect(seen.map((o) => o.status)).toEqual(["ok", "ok"]);
  });
});

describe("V2 binary through the official client", () => {
  it("an ArrayBuffer push gets a binary reply and a binary push", async () => {
    const socket = phoenixSocket(server.url);
    socket.connect();
    const ch = socket.channel("room:bin-client");
    const pushed = collect(ch, "binary_event");
    await outcome(ch.join());
    // The client sends binary only for an ArrayBuffer (not a typed array).
    const r = await outcome(ch.push("binary_event", Uint8Array.of(1, 2).buffer as unknown as object));
    expect(r.status).toBe("ok");
    expect(r.response).toBeInstanceOf(ArrayBuffer);
    expect([...new Uint8Array(r.response as ArrayBuffer)]).toEqual([1, 2, 3, 4]);
    await waitFor(() => pushed.length === 1, "the binary push");
    expect([...new Uint8Array(pushed[0] as ArrayBuffer)]).toEqual([0, 1]);
  });

  it("a binary broadcast arrives as an ArrayBuffer", async () => {
    const socket = phoenixSocket(server.url);
    socket.connect();
    const ch = socket.channel("room:bin-bcast");
    const got = collect(ch, "bin");
    await outcome(ch.join());
    await outcome(ch.push("binary_broadcast", {}));
    await waitFor(() => got.length === 1, "the binary broadcast");
    expect([...new Uint8Array(got[0] as ArrayBuffer)]).toEqual([9, 8, 7]);
  });
});
