import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { protocolTestRouter } from "./testing/protocol-channels.js";
import { startTestServer, type TestServer } from "./testing/test-server.js";

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ router: protocolTestRouter() });
});
afterAll(() => server.close());

function open(query: string): Promise<{ ws: WebSocket; frames: unknown[]; next(): Promise<unknown> }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${server.url}/websocket?${query}`);
    const frames: unknown[] = [];
    const waiters: Array<(f: unknown) => void> = [];
    ws.on("message", (d, bin) => {
      const f = bin ? d : JSON.parse(d.toString());
      const w = waiters.shift();
      if (w) w(f);
      else frames.push(f);
    });
    ws.on("open", () =>
      resolve({
        ws,
        frames,
        next: () => (frames.length ? Promise.resolve(frames.shift()) : new Promise((r) => waiters.push(r))),
      }),
    );
    ws.on("error", reject);
  });
}

describe("gateway smoke", () => {
  it("heartbeat, join, push, broadcast, event, leave over V2", async () => {
    const c = await open("token=good&vsn=2.0.0");
    c.ws.send(JSON.stringify([null, "1", "phoenix", "heartbeat", {}]));
    expect(await c.next()).toEqual([null, "1", "phoenix", "phx_reply", { status: "ok", response: {} }]);
    c.ws.send(JSON.stringify(["11", "1", "room:lobby", "phx_join", {}]));
    expect(await c.next()).toEqual(["11", "1", "room:lobby", "phx_reply", { status: "ok", response: {} }]);
    expect(await c.next()).toEqual([
      "11",
      null,
      "room:lobby",
      "joined",
      { status: "connected", user_id: "00000000-0000-4000-8000-000000000001" },
    ]);
    expect(await c.next()).toEqual([
      null,
      null,
      "room:lobby",
      "user_entered",
      { user: "00000000-0000-4000-8000-000000000001" },
    ]);
    c.ws.send(JSON.stringify(["11", "2", "room:lobby", "new_msg", { body: "hi!" }]));
    const two = [await c.next(), await c.next()];
    expect(two).toContainEqual(["11", "2", "room:lobby", "phx_reply", { status: "ok", response: {} }]);
    expect(two).toContainEqual([null, null, "room:lobby", "new_msg", { body: "hi!" }]);
    c.ws.send(JSON.stringify(["11", "3", "room:lobby", "phx_leave", {}]));
    expect(await c.next()).toEqual(["11", "3", "room:lobby", "phx_reply", { status: "ok", response: {} }]);
    expect(await c.next()).toEqual(["11", "11", "room:lobby", "phx_close", {}]);
    c.ws.close();
  });
});
