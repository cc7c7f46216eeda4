/**
 * Frame ordering under async handlers (PROTOCOL.md §4: serial per socket, a join blocks the
 * socket, heartbeats are answered at once), and the races around a channel that is still busy
 * when the client leaves, rejoins or goes away.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { protocolTestRouter } from "../testing/protocol-channels.js";
import { startTestServer, TEST_USER, type TestServer } from "../testing/test-server.js";
import { closeAllClients, connect, reply, waitFor } from "./wire-client.js";

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ router: protocolTestRouter() });
});
afterAll(() => server.close());
afterEach(closeAllClients);

const WATCHER = "00000000-0000-4000-8000-00000000000a";
const hb = (ref: string) => [null, ref, "phoenix", "heartbeat", {}];
const hbOk = (ref: string) => reply(null, ref, "phoenix", "ok");

describe("ordering under async handlers", () => {
  it("a slow event followed by echo on the same channel replies in order", async () => {
    const c = await connect(server.url);
    await c.joinRoom("room:o1", "1");
    c.send(["1", "2", "room:o1", "slow", { ms: 80 }]);
    c.send(["1", "3", "room:o1", "echo", { n: 3 }]);
    expect(await c.nextN(2)).toEqual([
      reply("1", "2", "room:o1", "ok", { slow: true }),
      reply("1", "3", "room:o1", "ok", { n: 3 }),
    ]);
  });

  it("a heartbeat during a slow event is answered immediately", async () => {
    const c = await connect(server.url);
    await c.joinRoom("room:o2", "1");
    c.send(["1", "2", "room:o2", "slow", { ms: 150 }]);
    c.send(hb("hb"));
    expect(await c.nextN(2)).toEqual([hbOk("hb"), reply("1", "2", "room:o2", "ok", { slow: true })]);
  });

  it("a slow event on one channel does not hold up another channel", async () => {
    const c = await connect(server.url);
    await c.joinRoom("room:o3a", "1");
    await c.joinRoom("room:o3b", "2");
    c.send(["1", "3", "room:o3a", "slow", { ms: 150 }]);
    c.send(["2", "4", "room:o3b", "echo", {}]);
    expect(await c.nextN(2)).toEqual([
      reply("2", "4", "room:o3b", "ok"),
      reply("1", "3", "room:o3a", "ok", { slow: true }),
    ]);
  });

  it("frames sent right after a phx_join are processed after the join; heartbeats are not held", async () => {
    const c = await connect(server.url);
    c.send(["1", "1", "room:o4", "phx_join", { delay_ms: 100 }]);
    c.send(["1", "2", "room:o4", "echo", { after: "join" }]);
    c.send(hb("hb"));
    expect(await c.nextN(5)).toEqual([
      hbOk("hb"),
      reply("1", "1", "room:o4", "ok"),
      ["1", null, "room:o4", "joined", { status: "connected", user_id: TEST_USER }],
      [null, null, "room:o4", "user_entered", { user: TEST_USER }],
      reply("1", "2", "room:o4", "ok", { after: "join" }),
    ]);
  });

  it("two joins in a row: the second waits for the first, then the frames behind both", async () => {
    const c = await connect(server.url);
    c.send(["1", "1", "room:o5a", "phx_join", { delay_ms: 60 }]);
    c.send(["2", "2", "room:o5b", "phx_join", { delay_ms: 10 }]);
    c.send(["1", "3", "room:o5a", "echo", {}]);
    const frames = await c.nextN(7);
    const replies = frames.filter((f) => (f as unknown[])[3] === "phx_reply");
    expect(replies).toEqual([
      reply("1", "1", "room:o5a", "ok"),
      reply("2", "2", "room:o5b", "ok"),
      reply("1", "3", "room:o5a", "ok"),
    ]);
  });

  it("a leave behind a slow event: the slow reply, then the leave reply, then phx_close", async () => {
    const c = await connect(server.url);
    await c.joinRoom("room:o6", "1");
    c.send(["1", "2", "room:o6", "slow", { ms: 80 }]);
    c.send(["1", "3", "room:o6", "phx_leave", {}]);
    expect(await c.nextN(3)).toEqual([
      reply("1", "2", "room:o6", "ok", { slow: true }),
      reply("1", "3", "room:o6", "ok"),
      ["1", "1", "room:o6", "phx_close", {}],
    ]);
  });
});

describe("races with a channel still busy", () => {
  it("rejoining while the old channel finishes its leave keeps the new channel subscribed", async () => {
    const c = await connect(server.url);
    const other = await connect(server.url, { token: `user:${WATCHER}` });
    await other.joinRoom("room:r1", "1");
    await c.joinRoom("room:r1", "1");
    await other.next(); // c's user_entered
    c.send(["1", "2", "room:r1", "slow", { ms: 100 }]);
    c.send(["1", "3", "room:r1", "phx_leave", {}]);
    c.send(["4", "4", "room:r1", "phx_join", {}]);
    // The new join is answered at once; the old channel's work follows with its own join_ref.
    const frames = await c.nextN(6);
    expect(frames).toContainEqual(reply("4", "4", "room:r1", "ok"));
    expect(frames.slice(-3)).toEqual([
      reply("1", "2", "room:r1", "ok", { slow: true }),
      reply("1", "3", "room:r1", "ok"),
      ["1", "1", "room:r1", "phx_close", {}],
    ]);
    // Once the old channel is gone, the new one still receives broadcasts.
    other.send(["1", "5", "room:r1", "new_msg", { body: "still there?" }]);
    expect(await c.next()).toEqual([null, null, "room:r1", "new_msg", { body: "still there?" }]);
  });

  it("a socket closed while a leave is queued still terminates that channel and releases its topic", async () => {
    await waitFor(() => server.gateway.stats().connections === 0, "earlier sockets to close");
    const c = await connect(server.url);
    const watcher = await connect(server.url, { token: `user:${WATCHER}` });
    await watcher.joinRoom("room:r2", "1");
    await c.joinRoom("room:r2", "1", { announce: true });
    await watcher.nextN(2); // announce, user_entered
    c.send(["1", "2", "room:r2", "slow", { ms: 100 }]);
    c.send(["1", "3", "room:r2", "phx_leave", {}]);
    c.send(hb("hb"));
    expect(await c.next()).toEqual(hbOk("hb")); // both frames reached the server
    c.close();
    const left = (await watcher.next()) as unknown[];
    expect(left.slice(0, 4)).toEqual([null, null, "room:r2", "left"]);
    watcher.close();
    await waitFor(() => server.gateway.stats().fanout.topics === 0, "every topic to be released");
  });

  it("broadcast_from in terminate after the socket's last leave reaches the others", async () => {
    const c = await connect(server.url);
    const watcher = await connect(server.url, { token: `user:${WATCHER}` });
    await watcher.joinRoom("room:r3", "1");
    await c.joinRoom("room:r3", "1", { announce: true });
    await watcher.nextN(2); // announce, user_entered
    c.send(["1", "2", "room:r3", "phx_leave", {}]);
    await c.nextN(2);
    expect(await watcher.next()).toEqual([
      null,
      null,
      "room:r3",
      "left",
      { user: TEST_USER, reason: "leave" },
    ]);
  });
});
