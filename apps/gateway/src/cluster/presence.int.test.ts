/**
 * Presence on `chat:{id}` across real gateway processes (apps/gateway/dist/main.js) sharing one
 * Redis and one Postgres, seen through the official phoenix `Socket` + `Presence`, with clients
 * on different processes: lists identical everywhere (refs included) and callbacks as Phoenix
 * fires them (PROTOCOL.md §6), through joins, updates, reconnects, a SIGKILLed node (leaves after
 * the down period), a SIGTERMed one (leaves at once), Redis restarts and outages, churn, and a
 * node started late. The in-process version (one memory bus) is chat/presence.int.test.ts.
 */
import {
  createTestDatabase,
  pingRedis,
  type RedisServer,
  startRedis,
  type TestDatabase,
  waitFor,
} from "@nexus/testkit";
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from "vitest";
import { startBalancer } from "./balancer.js";
import { Cluster, type GatewayProcess } from "./cluster-harness.js";
import { JWT_SECRET, seedConversation } from "./fixtures.js";
import {
  type PresenceClient as Client,
  converged,
  doubleCounted,
  expectedSids,
  PresenceClient,
  type PresenceClientOptions,
  type PresenceEvent,
  refAnomalies,
  withoutDoubleCounts,
} from "./presence-client.js";

/** PRESENCE_DOWN_MS for the gateways, unless a test needs another. */
const DOWN_MS = 2_000;
/** How long the churn test churns; longer runs (PRESENCE_CHURN_MS=60000) for hunting races. */
const CHURN_MS = Number(process.env.PRESENCE_CHURN_MS ?? 4_000);

let redis: RedisServer;
let tdb: TestDatabase;
let cluster: Cluster | undefined;
const clients: Client[] = [];
const cleanups: Array<() => unknown> = [];

beforeAll(async () => {
  [redis, tdb] = await Promise.all([startRedis(), createTestDatabase(inject("pgAdminUrl"))]);
});

afterEach(async () => {
  for (const c of clients.splice(0)) c.socket.disconnect();
  for (const f of cleanups.splice(0)) await f();
  await cluster?.killAll();
  cluster = undefined;
  // A test that failed mid-outage must not leave the next one without Redis.
  if (!(await pingRedis(redis.port))) await redis.start();
});

afterAll(async () => {
  await Promise.all([redis?.stop(), tdb?.drop()]);
});

function startCluster(nodeIds: string[], downMs = DOWN_MS): Promise<GatewayProcess[]> {
  cluster = new Cluster({
    databaseUrl: tdb.url,
    redisUrl: redis.url,
    jwtSecret: JWT_SECRET,
    env: { PRESENCE_DOWN_MS: String(downMs) },
  });
  return cluster.startAll(nodeIds);
}

function client(
  label: string,
  userId: string,
  node: { socketUrl: string },
  conv: string,
  opts?: PresenceClientOptions,
): Client {
  const c = new PresenceClient(label, userId, node.socketUrl, `chat:${conv}`, opts);
  clients.push(c);
  return c;
}

/** A client on `node`, joined, its first presence_state received. */
async function joined(
  label: string,
  userId: string,
  node: { socketUrl: string },
  conv: string,
  opts?: PresenceClientOptions,
): Promise<Client> {
  const c = client(label, userId, node, conv, opts);
  await c.join();
  return c;
}

function push(c: Client, event: string, payload: object): Promise<unknown> {
  return new Promise((resolve, reject) => {
    c.channel
      .push(event, payload)
      .receive("ok", resolve)
      .receive("error", (e: unknown) => reject(new Error(`${event}: ${JSON.stringify(e)}`)))
      .receive("timeout", () => reject(new Error(`${event}: timeout`)));
  });
}

/** Callbacks as short strings: `join u1 new 1` (key had no metas; 1 joined), `leave u1 1 1` (1 left, 1 remains). */
function fmt(events: readonly PresenceEvent[], names: Map<string, string>): string[] {
  return events.flatMap((e) => {
    if (e.kind === "state") return [];
    if (e.kind === "sync") return "sync";
    const who = names.get(e.key) ?? e.key;
    return e.kind === "join"
      ? `join ${who} ${e.had === 0 ? "new" : "more"} ${e.refs.length}`
      : `leave ${who} ${e.left} ${e.refs.length}`;
  });
}

/** join/leave callbacks as `kind key ref`, one per ref, sorted: what a window did, whatever the diff boundaries. */
function refMoves(events: readonly PresenceEvent[], names: Map<string, string>): string[] {
  const out: string[] = [];
  for (const e of events)
    if (e.kind === "join" || e.kind === "leave")
      for (const r of e.refs) out.push(`${e.kind} ${names.get(e.key) ?? e.key} ${r}`);
  return out.sort();
}

const readyz = (nodes: readonly GatewayProcess[]) => Promise.all(nodes.map((n) => n.readyz()));
const allReadyz = (nodes: readonly GatewayProcess[], status: number, what: string) =>
  waitFor(async () => (await readyz(nodes)).every((s) => s === status), { what, timeoutMs: 15_000 });

/** Clients' violations and per-ref anomalies, labelled; [] when every client behaved. */
function problems(cs: readonly Client[], opts: { revive?: boolean } = {}): string[] {
  return cs.flatMap((c) => [
    ...c.violations.map((v) => `${c.label}: ${v}`),
    ...refAnomalies(withoutDoubleCounts(c.events), opts).map((v) => `${c.label}: ${v}`),
  ]);
}

const timings: Record<string, number> = {};

afterAll(() => {
  if (Object.keys(timings).length > 0) console.info(`presence timings (ms): ${JSON.stringify(timings)}`);
});

describe("presence across gateway processes", () => {
  it("joins, an update, a second socket, leaves and a reconnect: identical lists and Phoenix's callbacks everywhere", async () => {
    const [a, b, c] = (await startCluster(["p-a", "p-b", "p-c"])) as [
      GatewayProcess,
      GatewayProcess,
      GatewayProcess,
    ];
    const { conversationId: conv, users } = await seedConversation(tdb.url, 3);
    const [u1, u2, u3] = users as [string, string, string];
    const names = new Map([
      [u1, "u1"],
      [u2, "u2"],
      [u3, "u3"],
    ]);
    const w1 = await joined("w1", u1, a, conv);
    const w2 = await joined("w2", u2, b, conv);
    const w3 = await joined("w3", u3, c, conv);
    const all = [w1, w2, w3];
    const first = await converged(all);
    // Each key joined once on every client, whether it came in the state or as a diff.
    for (const w of all) {
      expect(
        fmt(withoutDoubleCounts(w.events), names)
          .filter((e) => e !== "sync")
          .sort(),
      ).toEqual(["join u1 new 1", "join u2 new 1", "join u3 new 1"]);
    }
    const since = (marks: number[], cs: Client[]) => cs.map((w, i) => fmt(w.events.slice(marks[i]), names));
    let marks = all.map((w) => w.events.length);

    // An update is one diff on every client: the new meta joins, the old one leaves, same key.
    await push(w1, "update_presence", { status: "away" });
    await waitFor(() => all.every((w, i) => w.events.length >= marks[i]! + 3), {
      what: "the update everywhere",
    });
    const afterUpdate = await converged(all);
    expect(since(marks, all)).toEqual(all.map(() => ["join u1 more 1", "leave u1 1 1", "sync"]));
    expect(afterUpdate[u1]).not.toEqual(first[u1]);
    expect({ ...afterUpdate, [u1]: null }).toEqual({ ...first, [u1]: null });
    const onlineAt = w2.states[0]!.payload[u1]?.metas[0]?.online_at;
    for (const w of all) {
      expect(w.metas(u1)).toEqual([
        { online_at: onlineAt, status: "away", phx_ref: afterUpdate[u1]![0], phx_ref_prev: first[u1]![0] },
      ]);
      const diff = w.diffs.at(-1)!;
      expect(diff.leaves[u1]?.metas.map((m) => m.phx_ref)).toEqual(first[u1]);
    }

    // A second socket of u1, on another node: one more meta under the same key.
    marks = all.map((w) => w.events.length);
    const w1b = await joined("w1b", u1, c, conv);
    const withSecond = await converged([...all, w1b]);
    expect(withSecond[u1]).toHaveLength(2);
    expect(since(marks, all)).toEqual(all.map(() => ["join u1 more 1", "sync"]));

    // It leaves: that meta goes, the key stays, the first meta's ref is untouched.
    marks = all.map((w) => w.events.length);
    await w1b.leave();
    const back = await converged(all);
    expect(back).toEqual(afterUpdate);
    expect(since(marks, all)).toEqual(all.map(() => ["leave u1 1 1", "sync"]));

    // w2's connection drops; it reconnects and rejoins by itself with a new ref. Everyone sees
    // the old ref leave and the new one join; w2's own resync fires nothing for the others
    // (their refs are stable across snapshots).
    marks = all.map((w) => w.events.length);
    const oldU2 = back[u2]![0]!;
    w2.drop();
    await waitFor(() => w2.states.length === 2 && w2.synced(), { what: "w2 rejoined" });
    await waitFor(() => (w2.view()[u2] ?? []).some((r) => r !== oldU2), { what: "w2's new ref" });
    const reconnected = await converged(all);
    const newU2 = reconnected[u2]![0]!;
    expect(newU2).not.toBe(oldU2);
    expect({ ...reconnected, [u2]: null }).toEqual({ ...back, [u2]: null });
    for (const [i, w] of all.entries()) {
      // (w2 is b's only channel on the topic, so its rejoin makes b catch up again: no replay, see the last test.)
      expect(refMoves(withoutDoubleCounts(w.events, marks[i]), names)).toEqual([
        `join u2 ${newU2}`,
        `leave u2 ${oldU2}`,
      ]);
    }

    // The last socket of a key leaves: the key goes.
    marks = all.map((w) => w.events.length);
    await w3.leave();
    await converged(all);
    expect(since(marks, [w1, w2])).toEqual([
      ["leave u3 0 1", "sync"],
      ["leave u3 0 1", "sync"],
    ]);
    expect(problems([...all, w1b])).toEqual([]);
  });

  it("a SIGKILLed gateway's users leave on the others within the down period; the others stay", async () => {
    const [a, b, c] = (await startCluster(["k-a", "k-b", "k-c"])) as [
      GatewayProcess,
      GatewayProcess,
      GatewayProcess,
    ];
    const lb = await startBalancer([b.port, c.port]); // prefers b while it is up
    cleanups.push(() => lb.close());
    const { conversationId: conv, users } = await seedConversation(tdb.url, 5);
    const [u1, u2, u3, u4, u5] = users as [string, string, string, string, string];
    const wa = await joined("wa", u1, a, conv);
    const wc = await joined("wc", u4, c, conv);
    const onB = [
      await joined("wb1", u2, b, conv),
      await joined("wb2", u3, b, conv),
      await joined("wb3", u1, b, conv), // u1's second socket: its key must stay
    ];
    const moving = await joined("moving", u5, lb, conv); // on b, then on c
    expect((await b.stats()).connections).toBe(4);
    const before = await converged([wa, wc, moving, ...onB]);
    expect(before[u1]).toHaveLength(2);
    const marks = [wa.events.length, wc.events.length];

    const t0 = Date.now();
    await b.process.kill("SIGKILL");
    for (const w of onB) w.close(); // ground truth: gone (and no retries against the dead port)
    // As in Phoenix, the moved user shows twice (its new ref on c, its old one on dead b) until
    // b is declared down; then exactly b's refs leave.
    await waitFor(() => wa.view()[u5]?.length === 2, {
      what: "the moved client's new ref next to its old one",
    });
    const after = await converged([wa, wc, moving], {
      timeoutMs: DOWN_MS + 3_000,
      what: "b's users to leave on a and c",
    });
    timings.sigkillLeave = Date.now() - t0;
    expect(after[u4]).toEqual(before[u4]);
    expect(after[u1]).toHaveLength(1);
    expect(before[u1]).toContain(after[u1]![0]);
    expect(after[u5]).toHaveLength(1);
    expect(after[u5]).not.toEqual(before[u5]);
    // Leaves, one per ref b held, and the moved client's join.
    const bRefs = [
      ...before[u2]!,
      ...before[u3]!,
      ...before[u5]!,
      ...before[u1]!.filter((r) => r !== after[u1]![0]),
    ];
    const keyOf = (r: string) => users.find((u) => before[u]?.includes(r))!;
    for (const [i, w] of [wa, wc].entries()) {
      expect(refMoves(w.events.slice(marks[i]), new Map())).toEqual(
        [`join ${u5} ${after[u5]![0]}`, ...bRefs.map((r) => `leave ${keyOf(r)} ${r}`)].sort(),
      );
    }
    expect([a.alive(), c.alive()]).toEqual([true, true]);
    expect(problems([wa, wc, moving])).toEqual([]);
  });

  it("a gateway SIGKILLed and restarted under the same NODE_ID: its old entries leave at its new boot, not after the down period", async () => {
    const [a, b] = (await startCluster(["s-a", "s-b"], 30_000)) as [GatewayProcess, GatewayProcess];
    const { conversationId: conv, users } = await seedConversation(tdb.url, 3);
    const [u1, u2, u3] = users as [string, string, string];
    const wa = await joined("wa", u1, a, conv);
    // On b's own address: they reconnect to the restarted process and rejoin with new refs.
    const onB = [await joined("wb1", u2, b, conv), await joined("wb2", u3, b, conv)];
    const before = await converged([wa, ...onB]);
    const mark = wa.events.length;

    await b.process.kill("SIGKILL");
    const t0 = Date.now();
    await cluster!.start("s-b", b.port);
    const after = await converged([wa, ...onB], { what: "b's clients back, with new refs only" });
    timings.sameIdRestartConverged = Date.now() - t0;
    expect(after[u1]).toEqual(before[u1]);
    for (const u of [u2, u3]) {
      expect(after[u]).toHaveLength(1);
      expect(after[u]).not.toEqual(before[u]);
    }
    expect(refMoves(wa.events.slice(mark), new Map())).toEqual(
      [u2, u3].flatMap((u) => [`join ${u} ${after[u]![0]}`, `leave ${u} ${before[u]![0]}`]).sort(),
    );
    expect(problems([wa, ...onB])).toEqual([]);
  });

  it("a gateway frozen (SIGSTOP) past the down period: its users leave, then come back with the same refs; it does not flicker the others", async () => {
    const [a, b] = (await startCluster(["z-a", "z-b"])) as [GatewayProcess, GatewayProcess];
    const { conversationId: conv, users } = await seedConversation(tdb.url, 3);
    const [u1, u2, u3] = users as [string, string, string];
    const wa = await joined("wa", u1, a, conv);
    const wb = await joined("wb", u2, b, conv);
    const before = await converged([wa, wb]);

    // A long GC pause, a frozen VM: b is silent, so a declares it down.
    b.process.child.kill("SIGSTOP");
    const t0 = Date.now();
    await waitFor(() => wa.view()[u2] === undefined, {
      what: "b's user to leave on a",
      timeoutMs: DOWN_MS + 3_000,
    });
    timings.sigstopLeave = Date.now() - t0;
    const wa2 = await joined("wa2", u3, a, conv); // a change b has not seen
    const mark = wb.events.length;

    b.process.child.kill("SIGCONT");
    const after = await converged([wa, wb, wa2], { what: "b back" });
    // b's entries come back with the same refs (PROTOCOL.md §6.3); b saw only the real change:
    // having been frozen itself, it must not declare a down and flicker u1 to its clients.
    expect(after[u2]).toEqual(before[u2]);
    expect(fmt(wb.events.slice(mark), new Map([[u3, "u3"]]))).toEqual(["join u3 new 1", "sync"]);
    expect(problems([wa, wb, wa2], { revive: true })).toEqual([]);
  });

  it("a SIGTERMed gateway's users leave on the others at once, long before the down period", async () => {
    const [a, b] = (await startCluster(["g-a", "g-b"], 30_000)) as [GatewayProcess, GatewayProcess];
    const lb = await startBalancer([b.port, a.port]); // prefers b while it is up
    cleanups.push(() => lb.close());
    const { conversationId: conv, users } = await seedConversation(tdb.url, 3);
    const [u1, u2, u3] = users as [string, string, string];
    const names = new Map([
      [u1, "u1"],
      [u2, "u2"],
      [u3, "u3"],
    ]);
    const wa = await joined("wa", u1, a, conv);
    const moving = await joined("moving", u2, lb, conv); // lands on b, comes back on a
    const wb = await joined("wb", u3, b, conv); // b's own address: gone for good
    expect((await b.stats()).connections).toBe(2);
    const before = await converged([wa, moving, wb]);
    const mark = wa.events.length;

    const t0 = Date.now();
    const exited = b.process.kill("SIGTERM");
    wb.wanted = false;
    const gone = (v: Record<string, string[]>) =>
      v[u3] === undefined && !(v[u2] ?? []).includes(before[u2]![0]!);
    await waitFor(() => gone(wa.view()), { what: "b's users to leave on a", timeoutMs: 5_000 });
    timings.sigtermLeave = Date.now() - t0;
    expect(await exited).toBe(0);
    wb.close();

    // The moved client rejoins on a with a new ref; no ghost of its old one.
    await waitFor(() => (moving.view()[u2] ?? []).some((r) => r !== before[u2]![0]), {
      what: "moved client's new ref",
    });
    const after = await converged([wa, moving]);
    expect(after[u1]).toEqual(before[u1]);
    expect(after[u2]).toHaveLength(1);
    expect(after[u2]![0]).not.toBe(before[u2]![0]);
    expect(refMoves(wa.events.slice(mark), names)).toEqual(
      [`join u2 ${after[u2]![0]}`, `leave u2 ${before[u2]![0]}`, `leave u3 ${before[u3]![0]}`].sort(),
    );
    expect(problems([wa, moving])).toEqual([]);
  });

  it("after a Redis restart, and after an outage longer than the down period with changes during it, every view re-converges to the truth", async () => {
    const nodes = await startCluster(["r-a", "r-b", "r-c"]);
    const [a, b, c] = nodes as [GatewayProcess, GatewayProcess, GatewayProcess];
    const { conversationId: conv, users } = await seedConversation(tdb.url, 5);
    const [u1, u2, u3, u4, u5] = users as [string, string, string, string, string];
    const sid = { sid: true };
    const wa1 = await joined("wa1", u1, a, conv, sid);
    const wa2 = await joined("wa2", u2, a, conv, sid);
    const wb1 = await joined("wb1", u3, b, conv, sid);
    const wb2 = await joined("wb2", u1, b, conv, sid);
    const wc1 = await joined("wc1", u4, c, conv, sid);
    const wc3 = await joined("wc3", u3, c, conv, sid); // u3's second socket, leaves during a short outage
    const all = [wa1, wa2, wb1, wb2, wc1, wc3];
    const before = await converged(all, { sids: true });

    // A quick restart with nothing changing meanwhile: invisible to clients (nobody was silent for
    // the down period), no callback anywhere, and deltas flow again afterwards.
    let t0 = Date.now();
    const marks = all.map((w) => w.events.length);
    await redis.restart();
    await allReadyz(nodes, 200, "every node ready after the restart");
    expect(await converged(all, { sids: true, what: "views after the restart" })).toEqual(before);
    timings.redisRestartConverged = Date.now() - t0;
    expect(all.map((w, i) => fmt(w.events.slice(marks[i]), new Map()))).toEqual(all.map(() => []));
    await push(wa1, "update_presence", { sid: "wa1", status: "back" });
    await waitFor(() => all.every((w) => w.metas(u1).some((m) => m.sid === "wa1" && m.status === "back")), {
      what: "an update after the restart everywhere",
    });
    await converged(all, { sids: true });
    const wa1Ref = wa1.metas(u1).find((m) => m.sid === "wa1")!.phx_ref;
    const wc3Ref = wc3.metas(u3).find((m) => m.sid === "wc3")!.phx_ref;

    // A short outage (shorter than the down period) with a leave during it: the leave's delta is
    // lost with Redis; the nodes' re-assertion once it is back must still clear it everywhere.
    const shortMarks = all.map((w) => w.events.length);
    await redis.kill();
    await allReadyz(nodes, 503, "every node not ready (short outage)");
    await wc3.leave();
    t0 = Date.now();
    await redis.start();
    await allReadyz(nodes, 200, "every node ready after the short outage");
    const afterShort = await converged(all, { sids: true, what: "views after the short outage" });
    timings.redisShortOutageConverged = Date.now() - t0;
    // Nobody went down: the leave is the only thing any client saw.
    for (const [i, w] of all.entries())
      if (w.wanted)
        expect(refMoves(w.events.slice(shortMarks[i]), new Map())).toEqual([`leave ${u3} ${wc3Ref}`]);

    // A longer outage: every node declares the others down, so each client sees its own node only.
    await redis.kill();
    await allReadyz(nodes, 503, "every node not ready");
    const byNode = [
      [wa1, wa2],
      [wb1, wb2],
      [wc1, wc3],
    ];
    const local = (group: Client[]) =>
      waitFor(
        () => {
          const want = JSON.stringify(expectedSids(group));
          return group.every((w) => !w.wanted || (w.synced() && JSON.stringify(w.sids()) === want));
        },
        {
          what: `${group.map((w) => w.label).join("+")} to see only their own node`,
          timeoutMs: DOWN_MS + 5_000,
        },
      ).catch((e: Error) => {
        throw new Error(`${e.message}: ${JSON.stringify(group.map((w) => [w.label, w.sids()]))}`);
      });
    await Promise.all(byNode.map(local));
    // Changes nobody else can hear yet: a leave on a, a reconnect on b, a new join on c.
    await wa2.leave();
    const wbRejoins = wb2.states.length;
    wb2.drop();
    await waitFor(() => wb2.states.length > wbRejoins && wb2.synced(), {
      what: "wb2 rejoined during the outage",
    });
    const wc2 = await joined("wc2", u5, c, conv, sid);
    all.push(wc2);
    byNode[2]!.push(wc2);
    await Promise.all(byNode.map(local));

    t0 = Date.now();
    await redis.start();
    await allReadyz(nodes, 200, "every node ready after the outage");
    const after = await converged(all, { sids: true, what: "views after the outage", timeoutMs: 15_000 });
    timings.redisOutageConverged = Date.now() - t0;
    expect(Object.keys(after).sort()).toEqual([u1, u3, u4, u5].sort());
    expect(after[u3]).toEqual(afterShort[u3]); // a revived replica's entries come back with the same refs
    expect(after[u4]).toEqual(afterShort[u4]);
    expect(after[u1]).toContain(wa1Ref); // a's own entry never went anywhere
    expect(problems(all, { revive: true })).toEqual([]);
  });

  it(
    "many concurrent joins, leaves and reconnects on three nodes end with every view equal to the truth",
    async () => {
      const nodes = await startCluster(["m-a", "m-b", "m-c"]);
      const { conversationId: conv, users } = await seedConversation(tdb.url, 10);
      const sid = { sid: true };
      // 30 sockets, 10 users, each user's sockets spread over the nodes. The first three never
      // churn: they watch the whole run, and their callbacks must be Phoenix's, ref by ref.
      const all = users.flatMap((u, i) =>
        [0, 1, 2].map((k) => client(`s${i}-${k}`, u, nodes[(i + k) % 3]!, conv, sid)),
      );
      await Promise.all(all.map((c) => c.join()));
      await converged(all, { sids: true, what: "all 30 joined" });
      const observers = [all[0]!, all[4]!, all[8]!]; // one per node
      const churners = all.filter((c) => !observers.includes(c));

      let seed = 0x5eed + Math.floor(Math.random() * 1_000_000);
      const seedUsed = seed;
      const random = () => {
        // mulberry32: reproducible from the seed printed on failure
        seed = (seed + 0x6d2b79f5) | 0;
        let t = seed;
        t = Math.imul(t ^ (t >>> 15), t | 1);
        t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
        return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
      };
      const counts = { leave: 0, join: 0, drop: 0, update: 0 };
      const busy = new Set<Client>();
      const inFlight: Array<Promise<unknown>> = [];
      const act = async (c: Client) => {
        busy.add(c);
        try {
          if (!c.wanted) {
            counts.join++;
            await c.join();
          } else if (!c.synced()) {
            return; // still reconnecting
          } else {
            const r = random();
            if (r < 0.35) {
              counts.leave++;
              await c.leave();
            } else if (r < 0.7) {
              counts.drop++;
              c.drop();
            } else {
              counts.update++;
              await push(c, "update_presence", { sid: c.label, n: Math.floor(r * 1000) });
            }
          }
        } finally {
          busy.delete(c);
        }
      };
      const deadline = Date.now() + CHURN_MS; // the length of the churn, not a wait for anything
      while (Date.now() < deadline) {
        const free = churners.filter((c) => !busy.has(c));
        for (let k = 0; k < 3 && free.length > 0; k++) {
          const c = free.splice(Math.floor(random() * free.length), 1)[0]!;
          inFlight.push(act(c));
        }
        await new Promise((r) => setTimeout(r, 10 + random() * 40)); // pacing of the load
      }
      await Promise.all(inFlight).catch((e: Error) => {
        throw new Error(`seed ${seedUsed}: ${e.message}`);
      });
      timings.churnOps = counts.leave + counts.join + counts.drop + counts.update;

      const t0 = Date.now();
      const final = await converged(all, {
        sids: true,
        timeoutMs: 15_000,
        what: `the truth after churn (seed ${seedUsed})`,
      });
      timings.churnConverged = Date.now() - t0;
      const total = Object.values(final).reduce((n, refs) => n + refs.length, 0);
      expect(total).toBe(all.filter((c) => c.wanted).length);
      expect({ seed: seedUsed, problems: problems(all) }).toEqual({ seed: seedUsed, problems: [] });
      expect(counts.leave + counts.drop).toBeGreaterThan(20);
    },
    CHURN_MS + 26_000,
  );

  it("a gateway started after users are present elsewhere: the first presence_state on it already lists them", async () => {
    const [a, b] = (await startCluster(["l-a", "l-b"])) as [GatewayProcess, GatewayProcess];
    const { conversationId: conv, users } = await seedConversation(tdb.url, 3);
    const [u1, u2, u3] = users as [string, string, string];
    const wa = await joined("wa", u1, a, conv);
    const wb1 = await joined("wb1", u2, b, conv);
    const wb2 = await joined("wb2", u1, b, conv);
    const before = await converged([wa, wb1, wb2]);

    const c = await cluster!.start("l-c");
    const wc = await joined("wc", u3, c, conv);
    const firstState = wc.states[0]!.payload;
    const refsOf = (m: typeof firstState) =>
      Object.fromEntries(
        Object.entries(m)
          .map(([k, p]) => [k, p.metas.map((x) => x.phx_ref).sort()] as const)
          .sort(([x], [y]) => (x < y ? -1 : 1)),
      );
    expect(refsOf(firstState)).toEqual(before);
    const after = await converged([wa, wb1, wb2, wc]);
    expect({ ...after, [u3]: null }).toEqual({ ...before, [u3]: null });
    // Everything it knows came in that state: its callbacks are the state's joins and its own.
    expect(
      withoutDoubleCounts(wc.events)
        .filter((e) => e.kind === "join")
        .map((e) => e.key)
        .sort(),
    ).toEqual([u1, u2, u3].sort());
    expect(problems([wa, wb1, wb2, wc])).toEqual([]);
  });

  // The first channel to join a topic on a node is subscribed before the node has caught up on
  // the topic (tracker.watch(): the other nodes' snapshots). That catch-up is not change: it must
  // not go out as presence_diff joins, or the client applies them after a presence_state that
  // already lists the same refs and fires one extra onJoin per remote presence, on a first join
  // and on every reconnect of a node's only channel on the topic. Phoenix fires one per ref.
  it("a node catching up on a topic does not replay the remote presences as joins to its first channel", async () => {
    const [a, b] = (await startCluster(["f-a", "f-b"])) as [GatewayProcess, GatewayProcess];
    const { conversationId: conv, users } = await seedConversation(tdb.url, 2);
    const [u1, u2] = users as [string, string];
    const names = new Map([
      [u1, "u1"],
      [u2, "u2"],
    ]);
    const wa = await joined("wa", u1, a, conv);
    const wb = await joined("wb", u2, b, conv);
    const before = await converged([wa, wb]);
    // As against Phoenix: u1 from the state, then our own join as a diff.
    expect(fmt(wb.events, names)).toEqual(["join u1 new 1", "sync", "join u2 new 1", "sync"]);
    expect(Object.keys(wb.diffs[0]!.joins)).toEqual([u2]);

    // wb reconnects: b stopped watching the topic with it, and catches up again.
    const mark = wb.events.length;
    wb.drop();
    await waitFor(() => wb.states.length === 2 && wb.synced(), { what: "wb rejoined" });
    await waitFor(() => !(wb.view()[u2] ?? []).includes(before[u2]![0]!), { what: "wb's new ref" });
    const after = await converged([wa, wb]);
    // Only wb's own key moves; u1's ref is in the new state unchanged, so no callback.
    expect(refMoves(wb.events.slice(mark), names)).toEqual(
      [`join u2 ${after[u2]![0]}`, `leave u2 ${before[u2]![0]}`].sort(),
    );
    expect(doubleCounted(wb.events)).toHaveLength(0);
  });
});
