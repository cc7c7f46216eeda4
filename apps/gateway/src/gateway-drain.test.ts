/**
 * `gateway.drain()` in process, on a real uWS server whose listen socket stays open (the process
 * test in socket/drainer.int.test.ts covers the rest of the shutdown): upgrades are refused with
 * 503 as soon as the drain begins, and sockets that end before their wave (sign-out everywhere,
 * the client leaving) are neither closed twice nor counted.
 */
import { afterEach, describe, expect, it } from "vitest";
import { closeAllClients, connect, handshake, type WireClient } from "./conformance/wire-client.js";
import { protocolTestRouter } from "./testing/protocol-channels.js";
import { startTestServer, type TestServer } from "./testing/test-server.js";

const servers: TestServer[] = [];
afterEach(async () => {
  closeAllClients();
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function server(): Promise<TestServer> {
  const s = await startTestServer({ router: protocolTestRouter() });
  servers.push(s);
  return s;
}

const user = (n: number) => `user:00000000-0000-4000-8000-00000000000${n}`;
const codeOf = async (c: WireClient) => (await c.closed).code;

describe("gateway.drain", () => {
  it("refuses upgrades with 503 from the start, skips sockets that ended before their wave, and reports what it closed", async () => {
    const s = await server();
    // User 1 holds two sockets (byUser keeps a Set for them); they are drained in connect order.
    const clients: WireClient[] = [];
    for (const n of [1, 1, 2, 3, 4]) clients.push(await connect(s.url, { token: user(n) }));
    const [a1, a2, b, c, d] = clients as [WireClient, WireClient, WireClient, WireClient, WireClient];
    expect(s.gateway.stats().connections).toBe(5);

    const drained = s.gateway.drain({ batchSize: 2, batchIntervalMs: 300, timeoutMs: 10_000 });
    expect((await handshake(s.url, { token: user(5) })).status).toBe(503);
    expect([await codeOf(a1), await codeOf(a2)]).toEqual([1012, 1012]);
    // Before the second wave: c is signed out everywhere, b's client leaves.
    expect(s.gateway.disconnectUser("00000000-0000-4000-8000-000000000003")).toBe(1);
    b.ws.close(1000);
    expect(await codeOf(b)).toBe(1000);
    expect(await codeOf(c)).toBe(1001);
    expect(await drained).toEqual({ sockets: 5, waves: 3, closed: 3, cut: false });
    expect(await codeOf(d)).toBe(1012);
    expect(s.gateway.stats()).toMatchObject({ connections: 0, refusedTotal: 1 });
  });

  it("resolves at once with nothing to close", async () => {
    const s = await server();
    const started = Date.now();
    expect(await s.gateway.drain({ batchSize: 1, batchIntervalMs: 1_000, timeoutMs: 5_000 })).toEqual({
      sockets: 0,
      waves: 0,
      closed: 0,
      cut: false,
    });
    expect(Date.now() - started).toBeLessThan(500);
  });

  it("closes every socket at once without options", async () => {
    const s = await server();
    const clients = await Promise.all([1, 2, 3].map((n) => connect(s.url, { token: user(n) })));
    expect(await s.gateway.drain()).toEqual({ sockets: 3, waves: 1, closed: 3, cut: true });
    expect(await Promise.all(clients.map(codeOf))).toEqual([1012, 1012, 1012]);
  });
});
