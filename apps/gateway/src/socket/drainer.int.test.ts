/**
 * The shutdown drain in a real gateway process (dist/main.js, on a Redis of this file's own and
 * a Postgres database): SIGTERM while it holds sockets, then the close code and the time each
 * client sees. Waves are told apart by the gaps between closes (at least half an interval), so
 * the assertions are about grouping and order, with generous bounds on time.
 */
import { connect, type Socket } from "node:net";
import { createBus } from "@nexus/bus";
import { CloseCode } from "@nexus/protocol";
import { createTestDatabase, type RedisServer, startRedis, type TestDatabase, waitFor } from "@nexus/testkit";
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from "vitest";
import WebSocket from "ws";
import { Cluster, type GatewayProcess } from "../cluster/cluster-harness.js";
import { JWT_SECRET, seedConversation, tokenFor } from "../cluster/fixtures.js";
import { watchReadyz } from "../cluster/readyz-watch.js";
import { USERS_CONTROL_TOPIC } from "../gateway.js";

const N = 9;
let redis: RedisServer;
let tdb: TestDatabase;
let conversationId: string;
/** N users to drain and one more, watching from another node. */
let users: string[];
const clusters: Cluster[] = [];
const cleanups: Array<() => unknown> = [];

beforeAll(async () => {
  [redis, tdb] = await Promise.all([startRedis(), createTestDatabase(inject("pgAdminUrl"))]);
  ({ users, conversationId } = await seedConversation(tdb.url, N + 1));
});

afterEach(async () => {
  for (const f of cleanups.splice(0)) await f();
  await Promise.all(clusters.splice(0).map((c) => c.killAll()));
});

afterAll(async () => {
  await Promise.all([redis?.stop(), tdb?.drop()]);
});

/** A gateway with these drain settings. */
function startGateway(nodeId: string, drain: { batchSize: number; intervalMs: number; timeoutMs: number }) {
  const cluster = new Cluster({
    databaseUrl: tdb.url,
    redisUrl: redis.url,
    jwtSecret: JWT_SECRET,
    env: {
      DRAIN_BATCH_SIZE: String(drain.batchSize),
      DRAIN_BATCH_INTERVAL_MS: String(drain.intervalMs),
      DRAIN_TIMEOUT_MS: String(drain.timeoutMs),
    },
  });
  clusters.push(cluster);
  return cluster.start(nodeId);
}

interface Client {
  ws: WebSocket;
  /** Every frame received, with when it arrived. */
  frames: Array<{ frame: unknown[]; at: number }>;
  /** Set when the client saw its socket close. */
  closed?: { code: number; at: number };
}

/** One socket per user, opened one after the other: the node holds (and drains) them in this order. */
async function openAll(node: GatewayProcess, who: readonly string[]): Promise<Client[]> {
  const clients: Client[] = [];
  for (const userId of who) {
    const ws = new WebSocket(`${node.socketUrl}/websocket?vsn=2.0.0&token=${tokenFor(userId)}`);
    const c: Client = { ws, frames: [] };
    ws.on("message", (d) => c.frames.push({ frame: JSON.parse(String(d)) as unknown[], at: Date.now() }));
    ws.on("close", (code) => {
      c.closed = { code, at: Date.now() };
    });
    await new Promise((resolve, reject) => {
      ws.once("open", resolve);
      ws.once("error", reject);
    });
    clients.push(c);
  }
  cleanups.push(() => {
    for (const c of clients) c.ws.terminate();
  });
  return clients;
}

/** Joins every client to `topic`; resolves once each join was answered ok. */
async function joinAll(clients: readonly Client[], topic: string): Promise<void> {
  for (const c of clients) c.ws.send(JSON.stringify(["1", "1", topic, "phx_join", {}]));
  const ok = (c: Client) =>
    c.frames.some(
      ({ frame: f }) => f[1] === "1" && f[3] === "phx_reply" && (f[4] as { status: string }).status === "ok",
    );
  await waitFor(() => clients.every(ok), { what: `${clients.length} joins of ${topic}` });
}

/** Who is present on `topic` as `c` was told (presence_state, then presence_diffs), and when each left. */
function presenceSeen(
  c: Client,
  topic: string,
): { present: Set<string>; left: Array<{ key: string; at: number }> } {
  const present = new Set<string>();
  const left: Array<{ key: string; at: number }> = [];
  for (const { frame: f, at } of c.frames) {
    if (f[2] !== topic) continue;
    if (f[3] === "presence_state") for (const key of Object.keys(f[4] as object)) present.add(key);
    if (f[3] === "presence_diff") {
      const diff = f[4] as { joins: object; leaves: object };
      for (const key of Object.keys(diff.joins)) present.add(key);
      for (const key of Object.keys(diff.leaves)) {
        present.delete(key);
        left.push({ key, at });
      }
    }
  }
  return { present, left };
}

/** Items grouped into waves by time: a new wave starts after a gap longer than `gapMs`. */
function groupByGap<T extends { at: number }>(items: readonly T[], gapMs: number): T[][] {
  const out: T[][] = [];
  let last = Number.NEGATIVE_INFINITY;
  for (const item of [...items].sort((x, y) => x.at - y.at)) {
    if (item.at - last > gapMs) out.push([]);
    out.at(-1)!.push(item);
    last = item.at;
  }
  return out;
}

/** Indexes of `clients` grouped into waves: a new wave starts after a gap longer than `gapMs`. */
function waves(clients: readonly Client[], gapMs: number): Array<{ at: number; members: number[] }> {
  return groupByGap(
    clients.map((c, i) => ({ i, at: c.closed!.at })),
    gapMs,
  ).map((wave) => ({ at: wave[0]!.at, members: wave.map((x) => x.i).sort((x, y) => x - y) }));
}

/** Every client has seen its socket close (a process's exit can be heard before its last close frames). */
const allClosed = (clients: readonly Client[]) =>
  waitFor(() => clients.every((c) => c.closed), { what: "every socket to close", timeoutMs: 3_000 });

/** Sends SIGTERM; resolves with the exit code and when the exit was seen. */
function sigterm(node: GatewayProcess): {
  sentAt: number;
  exit: Promise<{ code: number | null; at: number }>;
} {
  const sentAt = Date.now();
  return { sentAt, exit: node.process.kill("SIGTERM").then((code) => ({ code, at: Date.now() })) };
}

/**
 * An HTTP/1.1 connection to the node, kept alive: opened before the SIGTERM, it can still ask
 * for an upgrade after the listen socket has closed.
 */
function keptAlive(port: number): Promise<{ request(head: string): Promise<string>; close(): void }> {
  const sock: Socket = connect(port, "127.0.0.1");
  let buf = "";
  let waiting: ((statusLine: string) => void) | undefined;
  sock.setEncoding("latin1");
  sock.on("data", (chunk: string) => {
    buf += chunk;
    const end = buf.indexOf("\r\n\r\n");
    if (end < 0 || !waiting) return;
    const head = buf.slice(0, end);
    const length = Number(/content-length:\s*(\d+)/i.exec(head)?.[1] ?? 0);
    if (buf.length < end + 4 + length) return;
    buf = buf.slice(end + 4 + length);
    const resolve = waiting;
    waiting = undefined;
    resolve(head.split("\r\n")[0]!);
  });
  sock.on("error", () => {});
  let ended = false;
  sock.on("close", () => {
    ended = true;
    waiting?.("connection closed");
  });
  return new Promise((resolve, reject) => {
    sock.once("error", reject);
    sock.once("connect", () =>
      resolve({
        request: (head) =>
          new Promise((r) => {
            if (ended) return r("connection closed");
            waiting = r;
            sock.write(`${head}\r\nHost: 127.0.0.1\r\n\r\n`);
          }),
        close: () => sock.destroy(),
      }),
    );
  });
}

const upgradeRequest = (userId: string) =>
  [
    `GET /socket/websocket?vsn=2.0.0&token=${tokenFor(userId)} HTTP/1.1`,
    "Connection: Upgrade",
    "Upgrade: websocket",
    "Sec-WebSocket-Version: 13",
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
  ].join("\r\n");

/** Resolves with how a fresh WebSocket connection attempt ended. */
function tryConnect(node: GatewayProcess, userId: string): Promise<"opened" | string> {
  return new Promise((resolve) => {
    const ws = new WebSocket(`${node.socketUrl}/websocket?vsn=2.0.0&token=${tokenFor(userId)}`);
    ws.once("open", () => {
      ws.terminate();
      resolve("opened");
    });
    ws.once("error", (e) => resolve((e as NodeJS.ErrnoException).code ?? e.message));
  });
}

describe("a gateway drained with SIGTERM", () => {
  it("goes not-ready at once, refuses new sockets, closes its sockets with 1012 in ceil(N/batch) waves an interval apart (their users leave the other node's presence in the same waves), then exits 0", async () => {
    const INTERVAL = 800;
    const [node, other] = await Promise.all([
      startGateway("drain-waves", { batchSize: 4, intervalMs: INTERVAL, timeoutMs: 20_000 }),
      startGateway("drain-observer", { batchSize: 10_000, intervalMs: 2_000, timeoutMs: 20_000 }),
    ]);
    const topic = `chat:${conversationId}`;
    const clients = await openAll(node, users.slice(0, N));
    const [observer] = (await openAll(other, [users[N]!])) as [Client];
    await joinAll([...clients, observer], topic);
    await waitFor(() => presenceSeen(observer, topic).present.size === N + 1, {
      what: "the other node's member to see everyone",
    });
    expect((await node.stats()).connections).toBe(N);
    const watch = await watchReadyz(node.port);
    cleanups.push(() => watch.stop());
    await waitFor(() => watch.statuses.length > 0, { what: "a first /readyz answer" });
    const http = await keptAlive(node.port);
    cleanups.push(() => http.close());
    expect(await http.request("GET /livez HTTP/1.1")).toBe("HTTP/1.1 200 OK");

    const { sentAt, exit } = sigterm(node);
    await waitFor(() => watch.statuses.includes(503), { what: "/readyz 503", timeoutMs: 5_000 });
    const notReadyAt = Date.now();
    await waitFor(() => clients.filter((c) => c.closed).length >= 4, { what: "the first wave" });
    // Between the first wave and the second: no new socket, by a new connection or a kept one.
    expect(await tryConnect(node, users[0]!)).toBe("ECONNREFUSED");
    expect(await http.request(upgradeRequest(users[0]!))).toBe("HTTP/1.1 503 Service Unavailable");
    const { code, at: exitedAt } = await exit;
    await allClosed(clients);

    expect(code).toBe(0);
    expect(clients.map((c) => c.closed?.code)).toEqual(Array(N).fill(CloseCode.ServiceRestart));
    const seen = waves(clients, INTERVAL / 2);
    // ceil(9 / 4) = 3 waves, in the order the sockets connected.
    expect(seen.map((w) => w.members)).toEqual([[0, 1, 2, 3], [4, 5, 6, 7], [8]]);
    expect(seen[0]!.at - sentAt).toBeLessThan(INTERVAL);
    for (let i = 1; i < seen.length; i++) {
      const gap = seen[i]!.at - seen[i - 1]!.at;
      expect(gap).toBeGreaterThan(INTERVAL * 0.6);
      expect(gap).toBeLessThan(INTERVAL * 2.5);
    }
    expect(notReadyAt).toBeLessThan(seen[1]!.at);
    expect(watch.statuses.join(",")).toMatch(/^(200,)*200(,503)+$/);
    // The process ends after its last wave, not long after. (The test may hear of the exit a
    // little before the client sees the last close frame: two pipes, no order between them.)
    expect(exitedAt).toBeGreaterThanOrEqual(seen.at(-1)!.at - 250);
    expect(exitedAt - seen.at(-1)!.at).toBeLessThan(5_000);
    expect(await node.stats().catch(() => "gone")).toBe("gone");
    // On the other node, the drained users leave wave by wave too, as their sockets close.
    const { present, left } = presenceSeen(observer, topic);
    expect([...present]).toEqual([users[N]]);
    expect(
      groupByGap(left, INTERVAL / 2).map((wave) =>
        wave.map((l) => users.indexOf(l.key)).sort((x, y) => x - y),
      ),
    ).toEqual([[0, 1, 2, 3], [4, 5, 6, 7], [8]]);
  });

  it("closes every socket still open at once when the timeout comes before the schedule ends", async () => {
    // Waves of 3 every 2 s would take 4 s; the 1 s timeout closes the other 6 with the second.
    const node = await startGateway("drain-timeout", { batchSize: 3, intervalMs: 2_000, timeoutMs: 1_000 });
    const clients = await openAll(node, users.slice(0, N));
    const { sentAt, exit } = sigterm(node);
    const { code, at: exitedAt } = await exit;
    await allClosed(clients);

    expect(code).toBe(0);
    expect(clients.map((c) => c.closed?.code)).toEqual(Array(N).fill(CloseCode.ServiceRestart));
    const seen = waves(clients, 400);
    expect(seen.map((w) => w.members)).toEqual([
      [0, 1, 2],
      [3, 4, 5, 6, 7, 8],
    ]);
    expect(seen[0]!.at - sentAt).toBeLessThan(1_000);
    const gap = seen[1]!.at - seen[0]!.at;
    expect(gap).toBeGreaterThan(600);
    expect(gap).toBeLessThan(1_800); // well before the 2 s interval
    expect(exitedAt - sentAt).toBeLessThan(5_000);
    expect(node.process.output()).toMatch(/"cut":true.*"msg":"drained \(timeout reached/);
  });

  it("keeps acting on sign-out everywhere during the drain, and skips the sockets that closed before their wave", async () => {
    const INTERVAL = 1_000;
    const node = await startGateway("drain-control", {
      batchSize: 4,
      intervalMs: INTERVAL,
      timeoutMs: 20_000,
    });
    const clients = await openAll(node, users.slice(0, N));
    // What the api does on sign-out everywhere (apps/api/src/services/events.ts), over the same Redis.
    const bus = createBus({ redisUrl: redis.url, nodeId: "drain-test", logger: { warn() {}, error() {} } });
    cleanups.push(() => bus.close());
    await waitFor(() => bus.isReady(), { what: "the test's bus" });

    const { exit } = sigterm(node);
    await waitFor(() => clients.filter((c) => c.closed).length >= 4, { what: "the first wave" });
    // Two sockets of the second wave end before it: one signed out everywhere, one left by its client.
    bus.publish(USERS_CONTROL_TOPIC, {
      kind: "control",
      topic: USERS_CONTROL_TOPIC,
      action: "disconnect_user",
      data: users[4]!,
    });
    clients[5]!.ws.close(1000);
    await waitFor(() => clients[4]!.closed && clients[5]!.closed, { what: "the two to close" });
    const { code } = await exit;
    await allClosed(clients);

    expect(code).toBe(0);
    expect(clients.map((c) => c.closed?.code)).toEqual([
      ...Array(4).fill(CloseCode.ServiceRestart),
      CloseCode.GoingAway,
      1000,
      ...Array(3).fill(CloseCode.ServiceRestart),
    ]);
    const drained = clients
      .map((c, i) => ({ ...c, i }))
      .filter((c) => c.closed!.code === CloseCode.ServiceRestart);
    const seen = waves(drained, INTERVAL / 2).map((w) => w.members.map((k) => drained[k]!.i));
    expect(seen).toEqual([[0, 1, 2, 3], [6, 7], [8]]);
    // Both ended before the second wave came.
    const secondWave = clients[6]!.closed!.at;
    expect(clients[4]!.closed!.at).toBeLessThan(secondWave);
    expect(clients[5]!.closed!.at).toBeLessThan(secondWave);
    // The node counted what it closed itself: 7 of the 9, none twice.
    expect(node.process.output()).toMatch(/"sockets":9,"waves":3,"closed":7,"cut":false/);
  });
});
