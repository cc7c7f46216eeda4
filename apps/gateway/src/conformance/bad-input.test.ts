/**
 * Bad input (PROTOCOL.md §1 "Server-initiated closes"): a malformed frame crashes that socket
 * only — close 1011 and no reply — while another socket joined at the same time keeps working
 * and the server stays up.
 *
 * Two deviations forced by uWS v20.30, which checks these before the gateway sees the frame and
 * then drops the TCP connection without a close frame (the client sees 1006):
 * - invalid UTF-8 in a text frame (Phoenix: 1007);
 * - a frame over OVERSIZE_FRAME_CAP (1 MiB; smaller oversized frames get our 1009).
 * phoenix.js reconnects after 1006 like after 1007/1009, so clients cannot tell.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { protocolTestRouter } from "../testing/protocol-channels.js";
import { startTestServer, type TestServer } from "../testing/test-server.js";
import { closeAllClients, connect, reply, type WireClient, waitFor } from "./wire-client.js";

const MAX_FRAME = 1024;
/** uWS's code for a connection it dropped itself (no close frame). */
const UWS_DROPPED = 1006;

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ router: protocolTestRouter(), maxFrameBytes: MAX_FRAME });
});
afterAll(() => server.close());
afterEach(closeAllClients);

const BYSTANDER = "00000000-0000-4000-8000-0000000000b5";
const bytes = (...parts: Array<number[] | string>) =>
  new Uint8Array(Buffer.concat(parts.map((p) => (typeof p === "string" ? Buffer.from(p) : Buffer.from(p)))));

interface BadCase {
  name: string;
  v1?: boolean;
  send(c: WireClient): void;
  code: number;
}

const CASES: BadCase[] = [
  { name: "invalid JSON", send: (c) => c.sendRaw('["1","2","room:bad"', false), code: 1011 },
  { name: "a non-array V2 frame", send: (c) => c.send({ topic: "room:bad", event: "echo" }), code: 1011 },
  { name: "a JSON string V2 frame", send: (c) => c.send("hello"), code: 1011 },
  { name: "wrong arity (4 elements)", send: (c) => c.send(["1", "2", "room:bad", "echo"]), code: 1011 },
  { name: "topic a number", send: (c) => c.send(["1", "2", 42, "echo", {}]), code: 1011 },
  { name: "event null", send: (c) => c.send(["1", "2", "room:bad", null, {}]), code: 1011 },
  {
    name: "a ref that is an object",
    send: (c) => c.send(["1", { r: 1 }, "room:bad", "echo", {}]),
    code: 1011,
  },
  {
    name: "binary kind 1 (reply) from a client",
    send: (c) => c.sendRaw(bytes([1, 1, 1, 8, 2], "1", "2", "room:bad", "ok"), true),
    code: 1011,
  },
  {
    name: "binary kind 2 from a client",
    send: (c) => c.sendRaw(bytes([2, 8, 4], "room:bad", "echo"), true),
    code: 1011,
  },
  {
    name: "a truncated binary header",
    send: (c) => c.sendRaw(bytes([0, 1, 1, 40, 4], "1", "2", "room"), true),
    code: 1011,
  },
  {
    name: "a binary frame on V1",
    v1: true,
    send: (c) => c.sendRaw(bytes([0, 1, 1, 8, 4], "1", "2", "room:bad", "echo"), true),
    code: 1011,
  },
  {
    name: "a V1 frame without the ref key",
    v1: true,
    send: (c) => c.send({ topic: "room:bad", event: "echo", payload: {} }),
    code: 1011,
  },
  {
    name: "a V1 frame that is an array",
    v1: true,
    send: (c) => c.send(["1", "2", "room:bad", "echo", {}]),
    code: 1011,
  },
  {
    name: "a frame one byte over maxFrameBytes",
    send: (c) => c.sendRaw("x".repeat(MAX_FRAME + 1), false),
    code: 1009,
  },
  {
    name: "a frame well over maxFrameBytes",
    send: (c) => c.sendRaw(new Uint8Array(200_000), true),
    code: 1009,
  },
  {
    name: "a frame over the 1 MiB cap (uWS drops it)",
    send: (c) => c.sendRaw(new Uint8Array(1024 * 1024 + 100), true),
    code: UWS_DROPPED,
  },
  {
    name: "invalid UTF-8 in a text frame (uWS drops it)",
    send: (c) => c.sendRaw(bytes("[", [0xff, 0xfe], "]"), false),
    code: UWS_DROPPED,
  },
];

async function joinedPair(v1: boolean): Promise<{ victim: WireClient; bystander: WireClient }> {
  const victim = await connect(server.url, v1 ? { vsn: null } : {});
  const bystander = await connect(server.url, { token: `user:${BYSTANDER}` });
  if (v1) {
    victim.send({ topic: "room:bad", event: "phx_join", payload: {}, ref: "1", join_ref: "1" });
    await victim.nextN(3);
  } else {
    await victim.joinRoom("room:bad", "1");
  }
  await bystander.joinRoom("room:bad", "1");
  await victim.next(); // bystander's user_entered
  return { victim, bystander };
}

describe("bad input closes only the offending socket", () => {
  for (const bad of CASES) {
    it(`${bad.name} → ${bad.code}`, async () => {
      // Tests run one at a time and each terminates its sockets: start from an empty server.
      await waitFor(() => server.gateway.stats().connections === 0, "the previous test's sockets to close");
      const { victim, bystander } = await joinedPair(bad.v1 === true);
      bad.send(victim);
      expect((await victim.expectClosedSilently()).code).toBe(bad.code);
      // The server noticed (its close handler ran to the end) and the bystander is unaffected.
      await waitFor(() => server.gateway.stats().connections === 1, "the victim's close");
      bystander.send([null, "hb", "phoenix", "heartbeat", {}]);
      expect(await bystander.next()).toEqual(reply(null, "hb", "phoenix", "ok"));
      bystander.send(["1", "2", "room:bad", "new_msg", { after: bad.name }]);
      const got = await bystander.nextN(2);
      expect(got).toContainEqual(reply("1", "2", "room:bad", "ok"));
      expect(got).toContainEqual([null, null, "room:bad", "new_msg", { after: bad.name }]);
      // And the server still accepts sockets.
      const fresh = await connect(server.url);
      await fresh.fence();
    });
  }

  it("a frame of exactly maxFrameBytes is accepted", async () => {
    const c = await connect(server.url);
    await c.joinRoom("room:max", "1");
    const head = '["1","2","room:max","echo",{"p":"';
    const tail = '"}]';
    c.sendRaw(head + "y".repeat(MAX_FRAME - head.length - tail.length) + tail, false);
    const r = (await c.next()) as unknown[];
    expect(r.slice(0, 4)).toEqual(["1", "2", "room:max", "phx_reply"]);
  });

  it("an unknown event on a joined channel gets an error reply and the channel stays", async () => {
    const c = await connect(server.url);
    await c.joinRoom("room:unknown", "11");
    c.send(["11", "2", "room:unknown", "no_such_event", {}]);
    expect(await c.next()).toEqual(
      reply("11", "2", "room:unknown", "error", { reason: "unknown event", event: "no_such_event" }),
    );
    c.send(["11", "3", "room:unknown", "echo", {}]);
    expect(await c.next()).toEqual(reply("11", "3", "room:unknown", "ok"));
  });

  it("a join reply the server cannot encode crashes that socket (1011), not the server", async () => {
    const c = await connect(server.url);
    c.send(["1", "1", "room:badreply", "phx_join", { bad_reply: true }]);
    expect((await c.expectClosedSilently()).code).toBe(1011);
    const fresh = await connect(server.url);
    await fresh.fence();
  });

  it("frames sent right after a malformed one are not processed", async () => {
    const c = await connect(server.url);
    const watcher = await connect(server.url, { token: `user:${BYSTANDER}` });
    await watcher.joinRoom("room:after-bad", "1");
    // Garbage, then at once a join that would broadcast user_entered if it ran.
    c.ws.send("not json");
    c.send(["1", "1", "room:after-bad", "phx_join", {}]);
    expect((await c.expectClosedSilently()).code).toBe(1011);
    await watcher.fence();
  });
});
