/**
 * PROTOCOL.md §8 case 9: a client quiet past the idle timeout is closed. As in Phoenix, only
 * inbound data counts: a socket that keeps receiving broadcasts but sends nothing still times out.
 *
 * uWS closes an idle socket without a close frame (the client sees 1006; Cowboy sends 1000).
 * phoenix.js reconnects either way. uWS's timer granularity is about 4 s, so the shortest
 * useful timeout (8 s) is used once here and never asserted to the second.
 */
import { afterAll, afterEach, beforeAll, expect, it } from "vitest";
import { protocolTestRouter } from "../testing/protocol-channels.js";
import { startTestServer, type TestServer } from "../testing/test-server.js";
import { closeAllClients, connect, reply } from "./wire-client.js";

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ router: protocolTestRouter(), idleTimeoutSeconds: 8 });
});
afterAll(() => server.close());
afterEach(closeAllClients);

it("9: a quiet socket is closed even while it receives broadcasts; the sending one stays", {
  timeout: 20_000,
}, async () => {
  const quiet = await connect(server.url);
  const chatty = await connect(server.url, { token: "user:00000000-0000-4000-8000-000000000009" });
  await quiet.joinRoom("room:idle", "1");
  await chatty.joinRoom("room:idle", "1");
  await quiet.next(); // chatty's user_entered
  const opened = Date.now();
  let n = 0;
  // The chatty socket sends a broadcast every 500 ms: inbound data for it, outbound for quiet.
  const timer = setInterval(() => chatty.send(["1", String(++n), "room:idle", "new_msg", { n }]), 500);
  try {
    const info = await quiet.closed;
    expect(info.code).toBe(1006);
    // It was closed for idleness, not at once: the timeout is 8 s with ~4 s granularity.
    expect(Date.now() - opened).toBeGreaterThan(3_000);
    expect(quiet.pending.length).toBeGreaterThan(0); // it did receive broadcasts meanwhile
  } finally {
    clearInterval(timer);
  }
  chatty.send([null, "hb", "phoenix", "heartbeat", {}]);
  // Drain the broadcasts and replies still in flight up to the heartbeat's reply.
  for (;;) {
    const f = await chatty.next();
    if (JSON.stringify(f) === JSON.stringify(reply(null, "hb", "phoenix", "ok"))) break;
  }
});
