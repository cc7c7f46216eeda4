/**
 * PROTOCOL.md §8 cases 1–7: the HTTP upgrade.
 *
 * Skipped: case 4's `{:error, :rate_limit}` → 429 (there is no custom error handler; every
 * refusal is a bare 403 by design, see upgrade.ts) and case 7's path variables (the socket is
 * mounted at a fixed path; there are no `/custom/:a/:b` mounts). LongPoll halves are out of scope.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { protocolTestRouter } from "../testing/protocol-channels.js";
import { fakeAuthenticate, startTestServer, type TestServer } from "../testing/test-server.js";
import { closeAllClients, connect, handshake, reply } from "./wire-client.js";

let server: TestServer;
let strict: TestServer;
const tokensSeen: string[] = [];

beforeAll(async () => {
  server = await startTestServer({
    router: protocolTestRouter(),
    // Records the token the upgrade extracted; "1234" is case 6's bearer token.
    authenticate: async (token) => {
      tokensSeen.push(token);
      return token === "1234" ? { ok: true, userId: "u-1234" } : fakeAuthenticate(token);
    },
  });
  strict = await startTestServer({ router: protocolTestRouter(), allowedOrigins: ["//example.com"] });
});
afterAll(async () => {
  await server.close();
  await strict.close();
});
afterEach(closeAllClients);

const httpUrl = (s: TestServer) => `http://127.0.0.1:${s.port}/socket/websocket?token=good&vsn=2.0.0`;

describe("handshake (cases 1–7)", () => {
  it("1: upgrade gets 101; a plain GET or a POST gets 400", async () => {
    expect((await handshake(server.url)).status).toBe(101);
    expect((await fetch(httpUrl(server))).status).toBe(400);
    expect((await fetch(httpUrl(server), { method: "POST", body: "[]" })).status).toBe(400);
  });

  it("2: vsn 123.1.1 (and other non-matching versions) get 403; ~> 2.0.0 is accepted", async () => {
    for (const vsn of ["123.1.1", "2.1.0", "2", "3.0.0", "2.0.0-rc.1"]) {
      expect((await handshake(server.url, { vsn })).status, vsn).toBe(403);
    }
    expect((await handshake(server.url, { vsn: "2.0.7" })).status).toBe(101);
    expect((await handshake(server.url, { vsn: "1.0.0" })).status).toBe(101);
  });

  it("3: no vsn means V1, with the exact V1 shapes (no join_ref key)", async () => {
    const c = await connect(server.url, { vsn: null });
    c.ws.send('{"topic":"room:a","event":"phx_join","payload":{},"ref":"1"}');
    const f = await c.nextRaw();
    expect(f.binary ? null : f.text).toBe(
      '{"topic":"room:a","event":"phx_reply","payload":{"status":"ok","response":{}},"ref":"1"}',
    );
    const pushed = await c.nextRaw();
    expect(pushed.binary ? null : pushed.text).toBe(
      '{"topic":"room:a","event":"joined","payload":{"status":"connected","user_id":"00000000-0000-4000-8000-000000000001"},"ref":null}',
    );
    await c.next(); // user_entered broadcast
    c.ws.send('{"topic":"phoenix","event":"heartbeat","payload":{},"ref":"2"}');
    expect(await c.next()).toEqual({
      topic: "phoenix",
      event: "phx_reply",
      payload: { status: "ok", response: {} },
      ref: "2",
    });
  });

  it("4: a refused connect (bad or missing token) gets 403", async () => {
    expect((await handshake(server.url, { token: "bad" })).status).toBe(403);
    expect((await handshake(server.url, { token: null })).status).toBe(403);
    expect((await handshake(server.url, { token: "" })).status).toBe(403);
  });

  it('5: check_origin ["//example.com"]', async () => {
    const withOrigin = (origin: string) => handshake(strict.url, { headers: { Origin: origin } });
    expect((await withOrigin("http://notallowed.com")).status).toBe(403);
    expect((await withOrigin("https://example.com")).status).toBe(101);
    expect((await withOrigin("http://example.com")).status).toBe(101);
    expect((await withOrigin("null")).status).toBe(403);
    expect((await withOrigin("https://x-example.com")).status).toBe(403);
    expect((await handshake(strict.url)).status).toBe(101); // no Origin header
  });

  it("6: the authToken subprotocol is decoded and `phoenix` echoed; only mqtt gets 403", async () => {
    tokensSeen.length = 0;
    const ok = await handshake(server.url, {
      token: null,
      protocols: ["phoenix", "base64url.bearer.phx.MTIzNA"],
    });
    expect(ok.status).toBe(101);
    expect(ok.headers["sec-websocket-protocol"]).toBe("phoenix");
    expect(tokensSeen).toEqual(["1234"]);

    expect((await handshake(server.url, { protocols: ["mqtt"] })).status).toBe(403);
    // phoenix offered without a bearer: the query token is used, and phoenix still echoed.
    const plain = await handshake(server.url, { protocols: ["phoenix"] });
    expect(plain.status).toBe(101);
    expect(plain.headers["sec-websocket-protocol"]).toBe("phoenix");
    // No subprotocol offered: none echoed.
    expect((await handshake(server.url)).headers["sec-websocket-protocol"]).toBeUndefined();
    // A bearer that decodes to a refused token is refused like a bad query token.
    const bad = await handshake(server.url, {
      token: null,
      protocols: ["phoenix", "base64url.bearer.phx.YmFk"],
    });
    expect(bad.status).toBe(403);
  });

  it("7: connect params reach the channel, vsn included and the token removed", async () => {
    const c = await connect(server.url, { query: "a=1&user%5Bname%5D=x" });
    await c.joinRoom("room:params", "1");
    c.send(["1", "2", "room:params", "params", {}]);
    expect(await c.next()).toEqual(
      reply("1", "2", "room:params", "ok", { a: "1", "user[name]": "x", vsn: "2.0.0" }),
    );
  });
});
