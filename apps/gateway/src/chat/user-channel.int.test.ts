/**
 * `user:{id}`: only that user may join; what the api announces about them (through its real
 * event publisher, on another bus of the same hub, as on another node) reaches their socket;
 * `signed_out` arrives just before the socket is closed.
 */
import { randomUUID } from "node:crypto";
import { createApiEvents } from "@nexus/api";
import { createMemoryBus, createMemoryHub } from "@nexus/bus";
import { createTestDatabase, type TestDatabase, waitFor } from "@nexus/testkit";
import { Socket } from "phoenix";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import WebSocket from "ws";
import { pyjwtHs256 } from "../testing/jwt.js";
import { type NodeServer, startNodeServer, TEST_JWT_SECRET } from "../testing/node-server.js";

let tdb: TestDatabase;
let server: NodeServer;
const hub = createMemoryHub();
const sockets: Socket[] = [];

function connect(userId: string): Socket {
  const s = new Socket(server.url, {
    params: { token: pyjwtHs256({ sub: userId }, TEST_JWT_SECRET) },
    transport: WebSocket as unknown as typeof globalThis.WebSocket,
  });
  sockets.push(s);
  s.connect();
  return s;
}

beforeAll(async () => {
  tdb = await createTestDatabase(inject("pgAdminUrl"));
  server = await startNodeServer({ databaseUrl: tdb.url, hub });
});
afterAll(async () => {
  for (const s of sockets) s.disconnect();
  await server?.close();
  await tdb?.drop();
});

describe("user:{id}", () => {
  it("admits only that user, and carries the api's events to them, signed_out last before the close", async () => {
    const me = randomUUID();
    const socket = connect(me);
    const events: Array<[string, unknown]> = [];
    const channel = socket.channel(`user:${me}`, {});
    for (const e of ["conversation_added", "conversation_removed", "profile_updated", "signed_out"]) {
      channel.on(e, (payload) => {
        events.push([e, payload]);
      });
    }
    await new Promise((resolve, reject) => channel.join().receive("ok", resolve).receive("error", reject));

    const other = socket.channel(`user:${randomUUID()}`, {});
    expect(await new Promise((resolve) => other.join().receive("error", resolve))).toEqual({
      reason: "unauthorized",
    });
    other.leave();

    const api = createApiEvents(createMemoryBus({ hub, nodeId: "api-node" }));
    api.toUser(me, "conversation_added", { conversation: { id: "c1", private: false } });
    api.toUser(me, "profile_updated", { hidden: true, theme: "night", magnification: 1.2, recents: [] });
    api.toUser(randomUUID(), "profile_updated", { someone: "else" });
    await waitFor(() => events.length === 2, { what: "two events" });

    const closed = new Promise<number>((resolve) => socket.onClose((e: { code: number }) => resolve(e.code)));
    api.signedOut(me, "signout_all");
    expect(await closed).toBe(1001);
    expect(events.map(([e]) => e)).toEqual(["conversation_added", "profile_updated", "signed_out"]);
    expect(events[2]![1]).toEqual({ reason: "signout_all" });
  });
});
