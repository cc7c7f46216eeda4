/**
 * Presence on `chat:{id}` across three gateway nodes (in-process, one in-memory bus hub, one
 * Postgres), seen through the official phoenix `Presence` class: every client's list must be the
 * same, refs included, and onJoin/onLeave must fire as they would against Phoenix.
 * (Process-level failure cases — SIGKILL, Redis restart — are in cluster/.)
 */
import { randomUUID } from "node:crypto";
import { createMemoryHub } from "@nexus/bus";
import { schema } from "@nexus/db";
import { createTestDatabase, type TestDatabase, waitFor } from "@nexus/testkit";
import { type Channel, Presence, Socket } from "phoenix";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import WebSocket from "ws";
import { pyjwtHs256 } from "../testing/jwt.js";
import { type NodeServer, startNodeServer, TEST_JWT_SECRET } from "../testing/node-server.js";

let tdb: TestDatabase;
const hub = createMemoryHub();
const nodes: NodeServer[] = [];
const users: string[] = [];
let conversation: string;
const sockets: Socket[] = [];

interface Watcher {
  socket: Socket;
  channel: Channel;
  presence: Presence;
  events: string[];
  /** key → sorted phx_refs, from the client's own Presence list. */
  view(): Record<string, string[]>;
}

async function watcher(node: NodeServer, userId: string): Promise<Watcher> {
  const socket = new Socket(node.url, {
    params: { token: pyjwtHs256({ sub: userId }, TEST_JWT_SECRET) },
    transport: WebSocket as unknown as typeof globalThis.WebSocket,
    reconnectAfterMs: () => 50,
    rejoinAfterMs: () => 50,
  });
  sockets.push(socket);
  socket.connect();
  const channel = socket.channel(`chat:${conversation}`, {});
  const presence = new Presence(channel);
  const events: string[] = [];
  presence.onJoin((key, current, joined) => {
    events.push(`join ${String(key).slice(0, 4)} ${current ? "more" : "new"} ${joined.metas.length}`);
  });
  presence.onLeave((key, current, left) => {
    events.push(`leave ${String(key).slice(0, 4)} ${current.metas.length} ${left.metas.length}`);
  });
  let synced = false;
  presence.onSync(() => {
    synced = true;
  });
  await new Promise<void>((resolve, reject) => {
    channel
      .join()
      .receive("ok", () => resolve())
      .receive("error", reject);
  });
  await waitFor(() => synced, { what: "first presence sync" });
  return {
    socket,
    channel,
    presence,
    events,
    view() {
      const pairs: Array<[string, string[]]> = [];
      presence.list((key, p: { metas: Array<{ phx_ref: string }> }) => {
        pairs.push([key, p.metas.map((m) => m.phx_ref).sort()]);
      });
      // Sorted, so that two clients' views compare equal whatever order they learnt keys in.
      return Object.fromEntries(pairs.sort(([a], [b]) => (a < b ? -1 : 1)));
    },
  };
}

/** Waits until every client shows exactly `expected` (key → number of metas), the same refs on all. */
async function converged(ws: Watcher[], expected: Record<string, number>) {
  const want = JSON.stringify(Object.entries(expected).sort(([a], [b]) => (a < b ? -1 : 1)));
  const shape = (v: Record<string, string[]>) =>
    JSON.stringify(Object.entries(v).map(([k, refs]) => [k, refs.length]));
  await waitFor(
    () => {
      const views = ws.map((w) => w.view());
      const first = JSON.stringify(views[0]);
      return views.every((v) => JSON.stringify(v) === first) && shape(views[0]!) === want;
    },
    { what: "identical presence lists", timeoutMs: 10_000 },
  ).catch((e: Error) => {
    throw new Error(`${e.message}\nexpected ${want}\nviews ${JSON.stringify(ws.map((w) => w.view()))}`);
  });
  return ws[0]!.view();
}

beforeAll(async () => {
  tdb = await createTestDatabase(inject("pgAdminUrl"));
  for (const nodeId of ["p1", "p2", "p3"])
    nodes.push(await startNodeServer({ databaseUrl: tdb.url, hub, nodeId }));
  const db = nodes[0]!.database.db;
  for (let i = 0; i < 4; i++) {
    const email = `${randomUUID()}@example.com`;
    const [u] = await db
      .insert(schema.users)
      .values({ email, displayName: email, passwordHash: "x" })
      .returning();
    users.push(u!.id);
  }
  const [c] = await db.insert(schema.conversations).values({ private: false }).returning();
  conversation = c!.id;
  await db
    .insert(schema.conversationMembers)
    .values(users.map((userId) => ({ conversationId: conversation, userId })));
});

afterAll(async () => {
  for (const s of sockets) s.disconnect();
  for (const n of nodes) await n.close();
  await tdb?.drop();
});

describe("presence on chat:{id} across nodes", () => {
  it("shows every member on every node, with the same refs; updates, leaves and extra sockets behave like Phoenix", async () => {
    const [u1, u2, u3] = users as [string, string, string];
    const a = await watcher(nodes[0]!, u1);
    const b = await watcher(nodes[1]!, u2);
    const c = await watcher(nodes[2]!, u3);
    const all = [a, b, c];
    const first = await converged(all, { [u1]: 1, [u2]: 1, [u3]: 1 });

    // An update is one diff on every client: the new meta joins, the old one leaves, same key.
    for (const w of all) w.events.length = 0;
    await new Promise((resolve, reject) =>
      a.channel.push("update_presence", { status: "away" }).receive("ok", resolve).receive("error", reject),
    );
    await waitFor(() => all.every((w) => w.events.length >= 2), { what: "update diff everywhere" });
    for (const w of all)
      expect(w.events).toEqual([`join ${u1.slice(0, 4)} more 1`, `leave ${u1.slice(0, 4)} 1 1`]);
    const afterUpdate = await converged(all, { [u1]: 1, [u2]: 1, [u3]: 1 });
    expect(afterUpdate[u1]).not.toEqual(first[u1]);
    let meta: Record<string, unknown> | undefined;
    b.presence.list((key, p: { metas: Array<Record<string, unknown>> }) => {
      if (key === u1) meta = p.metas[0];
    });
    expect(meta).toMatchObject({ status: "away", online_at: expect.stringMatching(/\.\d{6}Z$/) });

    // A second socket of one user is a second meta under the same key.
    const a2 = await watcher(nodes[1]!, u1);
    await converged([...all, a2], { [u1]: 2, [u2]: 1, [u3]: 1 });

    // Leaving removes that meta everywhere; the key stays while another socket holds it.
    a2.channel.leave();
    const back = await converged(all, { [u1]: 1, [u2]: 1, [u3]: 1 });
    expect(back[u1]).toEqual(afterUpdate[u1]);
    b.channel.leave();
    await converged([a, c], { [u1]: 1, [u3]: 1 });
  });

  it("a reconnecting client gets a fresh complete state, and the others see it leave and come back", async () => {
    const u4 = users[3]!;
    const x = await watcher(nodes[0]!, users[0]!);
    const y = await watcher(nodes[2]!, u4);
    // users[0] also still has the first test's socket on p1, users[2] on p3.
    const expected = { [users[0]!]: 2, [users[2]!]: 1, [u4]: 1 };
    await converged([x, y], expected);
    const before = x.view()[u4];
    y.socket.disconnect();
    await waitFor(() => x.view()[u4] === undefined, { what: "leave on socket close" });
    y.socket.connect();
    await waitFor(() => y.socket.isConnected() && x.view()[u4] !== undefined, { what: "rejoin" });
    const after = await converged([x, y], expected);
    expect(after[u4]).not.toEqual(before);
  });
});
