/**
 * A consumer that stops reading is cut off once its send buffer passes maxBackpressureBytes,
 * instead of the server buffering for it without bound; the others on the topic are unaffected.
 * uWS closes it without a close frame (1006, like any dropped connection), so gateway.ts counts
 * it from what it saw before the close; an ordinary dropped connection is not counted.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { protocolTestRouter } from "../testing/protocol-channels.js";
import { startTestServer, type TestServer } from "../testing/test-server.js";
import { closeAllClients, connect, reply, waitFor } from "./wire-client.js";

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ router: protocolTestRouter(), maxBackpressureBytes: 16 * 1024 });
});
afterAll(() => server.close());
afterEach(closeAllClients);

const FLOODER = "00000000-0000-4000-8000-0000000000f1";
// Loopback kernel buffers absorb a few MB before uWS sees any backpressure.
const FLOOD = { count: 250, size: 60_000 };

describe("slow consumers", () => {
  it("a reader that stalls on broadcasts is closed and counted; the sender is unaffected", async () => {
    const slow = await connect(server.url);
    const flooder = await connect(server.url, { token: `user:${FLOODER}` });
    await slow.joinRoom("room:flood", "1");
    await flooder.joinRoom("room:flood", "1");
    await slow.next(); // flooder's user_entered
    slow.ws.pause();
    flooder.send(["1", "2", "room:flood", "flood", FLOOD]);
    expect(await flooder.next(5_000)).toEqual(reply("1", "2", "room:flood", "ok"));
    await waitFor(
      () => server.gateway.stats().slowConsumersClosed === 1,
      "the slow consumer to be closed",
      5_000,
    );
    slow.ws.resume();
    expect((await slow.closed).code).toBe(1006);
    flooder.send([null, "hb", "phoenix", "heartbeat", {}]);
    expect(await flooder.next()).toEqual(reply(null, "hb", "phoenix", "ok"));
  });

  it("a reader that stalls on its own replies is closed and counted", async () => {
    const before = server.gateway.stats().slowConsumersClosed;
    const slow = await connect(server.url);
    await slow.joinRoom("room:echoes", "1");
    slow.ws.pause();
    const big = "y".repeat(60_000);
    for (let i = 0; i < FLOOD.count; i++) slow.send(["1", String(i + 10), "room:echoes", "echo", { big }]);
    await waitFor(
      () => server.gateway.stats().slowConsumersClosed === before + 1,
      "the slow consumer to be closed",
      5_000,
    );
    slow.ws.resume();
    expect((await slow.closed).code).toBe(1006);
  });

  it("a connection that simply drops (1006) is not counted as slow", async () => {
    await waitFor(() => server.gateway.stats().connections === 0, "earlier sockets to close");
    const before = server.gateway.stats().slowConsumersClosed;
    const c = await connect(server.url);
    await c.joinRoom("room:drop", "1");
    c.ws.terminate();
    await waitFor(() => server.gateway.stats().connections === 0, "the dropped socket's close");
    expect(server.gateway.stats().slowConsumersClosed).toBe(before);
  });
});
