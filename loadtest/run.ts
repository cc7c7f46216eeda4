/**
 * @module
 * The Node runner (`pnpm bench`): drives the k6 scenarios of k6/ on this machine, where k6 cannot
 * be installed. It starts Postgres and Redis (testkit) unless DATABASE_URL / REDIS_URL are given,
 * seeds users and rooms, spawns 1 or 2 gateway processes (apps/gateway/dist/main.js) on loopback,
 * spreads the client sockets over forked worker processes and several 127.0.0.x source addresses,
 * prints a table per scenario and writes everything to results/<timestamp>.json.
 *
 *   node loadtest/dist/run.js [idle] [fanout] [connect] [presence] [--nodes 1,2] [--help]
 *
 * Every run is bounded: each phase has a timeout and the whole run a deadline (--max-minutes).
 */
import { execFileSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { cpus, loadavg, totalmem } from "node:os";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import {
  type AppProcess,
  freePort,
  type PostgresServer,
  type RedisServer,
  spawnApp,
  startPostgres,
  startRedis,
  waitForHttp,
} from "@nexus/testkit";
import type { Histogram } from "./lib/histogram.js";
import { type GcHandle, openInspectorGc } from "./lib/inspector-gc.js";
import type { ConnSpec, PresenceConn, PresenceVerifyResult } from "./lib/ipc.js";
import { mintToken } from "./lib/jwt.js";
import { cpuSeconds, cpuTimes, machineCpu, settledRss, treeCpuSeconds } from "./lib/proc.js";
import { memberIndexOf, type Population, roomOf, seed } from "./lib/seed.js";
import { formatTable } from "./lib/table.js";
import { type PresenceCollected, Workers } from "./lib/workers.js";

const HELP = `usage: node loadtest/dist/run.js [idle|fanout|connect|presence|all]... [options]

scenarios (default: all four)
  idle      N connected+joined sockets; gateway RSS per idle joined socket
  fanout    rooms × members; a ladder of offered rates up to saturation, then half of it
  connect   a storm of N connects + joins from every worker at once
  presence  churners join and leave rooms at a ladder of rates; time until every node's
            observer saw each join/leave (presence_diff), and a final check of every view

options
  --nodes 1,2            gateway counts to run each scenario with (2 share one Redis)
  --sockets 10000        idle: sockets measured (after --warmup-sockets more)
  --warmup-sockets 500   idle: connected before the baseline, so one-time costs stay out of the delta
  --rooms 100            fanout: rooms
  --members 100          fanout: members per room (deliveries per message)
  --rates 100,200,...    fanout: offered msgs/s ladder (total, all rooms); stops at the first saturated step
  --step-seconds 8       fanout, presence: sending window of each step
  --connects 10000       connect: sockets in the storm
  --presence-rooms 50    presence: rooms (each has one observer socket per node)
  --churners 2000        presence: churner sockets (half of them are in their room at any time)
  --presence-rates 1000,2500,5000,7500
                         presence: offered joins+leaves/s ladder (total); stops at the first saturated step
  --presence-timeout-ms 5000
                         presence: an op not seen on every node this long after its ack is missing
  --concurrency 64       in-flight connects per worker
  --workers 4            client worker processes
  --source-ips 8         client source addresses 127.0.0.2 …
  --single-bus redis     bus of the 1-node runs: redis (like a cluster) or memory
  --gateway-env K=V      extra env for the gateways (repeatable), e.g. POOL_SIZE=20
  --cpu-prof             gateways run with --cpu-prof; profiles go to results/prof-<time>/
  --heap-snapshot        idle: heap snapshot of each gateway with all sockets joined, to results/
  --max-minutes 20       hard deadline for the whole run
  --k6-fixture FILE      seed DATABASE_URL, write tokens/topics for the k6 scripts to FILE, exit

env: DATABASE_URL, REDIS_URL (use these servers instead of starting throwaway ones), JWT_SECRET,
     GATEWAY_SCRIPT (default apps/gateway/dist/main.js)`;

const { values: opt, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    nodes: { type: "string", default: "1,2" },
    sockets: { type: "string", default: "10000" },
    "warmup-sockets": { type: "string", default: "500" },
    rooms: { type: "string", default: "100" },
    members: { type: "string", default: "100" },
    rates: { type: "string", default: "100,200,400,800,1200,1600,2400,3200" },
    "step-seconds": { type: "string", default: "8" },
    connects: { type: "string", default: "10000" },
    "presence-rooms": { type: "string", default: "50" },
    churners: { type: "string", default: "2000" },
    "presence-rates": { type: "string", default: "1000,2500,5000,7500" },
    "presence-timeout-ms": { type: "string", default: "5000" },
    concurrency: { type: "string", default: "64" },
    workers: { type: "string", default: "4" },
    "source-ips": { type: "string", default: "8" },
    "single-bus": { type: "string", default: "redis" },
    "gateway-env": { type: "string", multiple: true, default: [] },
    "cpu-prof": { type: "boolean", default: false },
    "heap-snapshot": { type: "boolean", default: false },
    "max-minutes": { type: "string", default: "20" },
    "k6-fixture": { type: "string" },
    help: { type: "boolean", short: "h", default: false },
  },
});

if (opt.help) {
  console.log(HELP);
  process.exit(0);
}

function int(name: string, v: string, min: number, max: number): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max) {
    console.error(`--${name}: expected an integer in [${min}, ${max}], got ${JSON.stringify(v)}`);
    process.exit(2);
  }
  return n;
}

const SCENARIOS = ["idle", "fanout", "connect", "presence"] as const;
type Scenario = (typeof SCENARIOS)[number];
const wanted: Scenario[] =
  positionals.length === 0 || positionals.includes("all")
    ? [...SCENARIOS]
    : positionals.map((p) => {
        if (!(SCENARIOS as readonly string[]).includes(p)) {
          console.error(`unknown scenario ${JSON.stringify(p)}\n\n${HELP}`);
          process.exit(2);
        }
        return p as Scenario;
      });

const cfg = {
  nodes: opt.nodes.split(",").map((n) => int("nodes", n, 1, 2)),
  sockets: int("sockets", opt.sockets, 1, 200_000),
  warmupSockets: int("warmup-sockets", opt["warmup-sockets"], 0, 10_000),
  rooms: int("rooms", opt.rooms, 1, 10_000),
  members: int("members", opt.members, 1, 10_000),
  rates: opt.rates.split(",").map((r) => int("rates", r, 1, 1_000_000)),
  stepSeconds: int("step-seconds", opt["step-seconds"], 1, 600),
  connects: int("connects", opt.connects, 1, 200_000),
  presenceRooms: int("presence-rooms", opt["presence-rooms"], 1, 5_000),
  churners: int("churners", opt.churners, 2, 100_000),
  presenceRates: opt["presence-rates"].split(",").map((r) => int("presence-rates", r, 1, 1_000_000)),
  presenceTimeoutMs: int("presence-timeout-ms", opt["presence-timeout-ms"], 100, 60_000),
  concurrency: int("concurrency", opt.concurrency, 1, 10_000),
  workers: int("workers", opt.workers, 1, 64),
  sourceIps: int("source-ips", opt["source-ips"], 1, 250),
  singleBus: opt["single-bus"] === "memory" ? ("memory" as const) : ("redis" as const),
  gatewayEnv: Object.fromEntries(
    (opt["gateway-env"] ?? []).map((kv) => {
      const i = kv.indexOf("=");
      if (i < 1) {
        console.error(`--gateway-env: expected KEY=VALUE, got ${JSON.stringify(kv)}`);
        process.exit(2);
      }
      return [kv.slice(0, i), kv.slice(i + 1)];
    }),
  ) as Record<string, string>,
  cpuProf: opt["cpu-prof"] ?? false,
  heapSnapshot: opt["heap-snapshot"] ?? false,
  maxMinutes: int("max-minutes", opt["max-minutes"], 1, 240),
};

// A process may hold 20,000 files here: keep every worker well under that.
const largest = Math.max(
  wanted.includes("idle") ? cfg.sockets + cfg.warmupSockets : 0,
  wanted.includes("fanout") ? cfg.rooms * cfg.members : 0,
  wanted.includes("connect") ? cfg.connects : 0,
  wanted.includes("presence") ? 2 * cfg.presenceRooms + cfg.churners : 0,
);
if (largest / cfg.workers > 18_000) {
  console.error(`${largest} sockets over ${cfg.workers} workers is over 18,000 per process: raise --workers`);
  process.exit(2);
}

const here = (rel: string) => fileURLToPath(new URL(rel, import.meta.url));
const GATEWAY_SCRIPT = process.env.GATEWAY_SCRIPT ?? here("../../apps/gateway/dist/main.js");
const WORKER_SCRIPT = here("./lib/client-worker.js");
const RESULTS_DIR = here("../results/");
const stamp = new Date().toISOString().replace(/[:.]/g, "-");
const JWT_SECRET = process.env.JWT_SECRET ?? randomBytes(32).toString("base64url");

const mb = (b: number) => (b / 1048576).toFixed(1);
const log = (s: string) => console.log(`[bench ${new Date().toISOString().slice(11, 19)}] ${s}`);

// ---------------------------------------------------------------------------------------------
// Infrastructure and cleanup

const cleanups: Array<() => Promise<void>> = [];
let cleaning: Promise<void> | undefined;
function cleanup(): Promise<void> {
  cleaning ??= (async () => {
    for (const c of cleanups.splice(0).reverse()) await c().catch(() => {});
  })();
  return cleaning;
}
for (const sig of ["SIGINT", "SIGTERM"] as const) {
  process.once(sig, () => {
    log(`${sig}: stopping`);
    void cleanup().then(() => process.exit(130));
  });
}
setTimeout(() => {
  console.error(`bench: over the --max-minutes deadline (${cfg.maxMinutes} min); stopping`);
  void cleanup().then(() => process.exit(3));
}, cfg.maxMinutes * 60_000).unref();

interface Gateway {
  nodeId: string;
  port: number;
  pid: number;
  app: AppProcess;
  gc?: GcHandle;
}

async function startGateways(
  count: number,
  env: { databaseUrl: string; redisUrl: string | undefined },
  { inspect = false }: { inspect?: boolean } = {},
): Promise<Gateway[]> {
  const profDir = `${RESULTS_DIR}prof-${stamp}`;
  if (cfg.cpuProf) mkdirSync(profDir, { recursive: true });
  const gws: Gateway[] = [];
  for (let k = 0; k < count; k++) {
    const port = await freePort();
    // --inspect-port only picks the port; the inspector opens on SIGUSR1 (see inspector-gc.ts).
    const inspectPort = inspect ? await freePort() : undefined;
    const nodeArgs = [
      ...(inspectPort ? [`--inspect-port=127.0.0.1:${inspectPort}`] : []),
      ...(cfg.cpuProf ? ["--cpu-prof", `--cpu-prof-dir=${profDir}`] : []),
    ];
    const nodeId = `bench-${k + 1}`;
    const app = spawnApp(
      GATEWAY_SCRIPT,
      {
        PORT: String(port),
        HOST: "127.0.0.1",
        DATABASE_URL: env.databaseUrl,
        REDIS_URL: env.redisUrl,
        JWT_SECRET,
        NODE_ID: nodeId,
        LOG_LEVEL: "warn",
        ...cfg.gatewayEnv,
      },
      [],
      { nodeArgs },
    );
    const gw: Gateway = { nodeId, port, pid: app.pid, app };
    gws.push(gw);
    cleanups.push(() => stopGateway(gw));
    try {
      await waitForHttp(`http://127.0.0.1:${port}/readyz`, { timeoutMs: 30_000 });
    } catch (e) {
      throw new Error(`gateway ${nodeId} did not become ready: ${(e as Error).message}\n${app.output()}`);
    }
    if (inspectPort) gw.gc = await openInspectorGc(gw.pid, inspectPort);
  }
  return gws;
}

async function stopGateway(gw: Gateway): Promise<void> {
  gw.gc?.close();
  // SIGTERM drains and exits normally, which is also when --cpu-prof writes its profile.
  const killer = setTimeout(() => void gw.app.kill("SIGKILL"), 15_000);
  await gw.app.kill("SIGTERM");
  clearTimeout(killer);
}

async function stopGateways(gws: Gateway[]): Promise<void> {
  await Promise.all(gws.map(stopGateway));
}

async function gatewayStats(gws: Gateway[]): Promise<unknown[]> {
  return Promise.all(
    gws.map(async (g) => {
      try {
        const res = await fetch(`http://127.0.0.1:${g.port}/stats`, { signal: AbortSignal.timeout(5_000) });
        return await res.json();
      } catch (e) {
        return { error: (e as Error).message };
      }
    }),
  );
}

const gatewayCpu = (gws: Gateway[]) => gws.reduce((s, g) => s + cpuSeconds(g.pid), 0);
/** Kernel share of the gateways' CPU: on loopback the TCP path of every send is charged to the sender. */
const gatewaySys = (gws: Gateway[]) => gws.reduce((s, g) => s + cpuTimes(g.pid).system, 0);

// ---------------------------------------------------------------------------------------------
// Who connects where

let ipRotation = 0;
/**
 * Specs for users `indices`, one list per worker. Node: by member index, so every room has half its
 * members on each of 2 nodes. Source address: rotated between phases so that ports a previous phase
 * left in TIME_WAIT are not needed again soon.
 */
function plan(indices: number[], pop: Population, gws: Gateway[], workers: number): ConnSpec[][] {
  const shares: ConnSpec[][] = Array.from({ length: workers }, () => []);
  const rooms = pop.roomIds.length;
  const rot = ipRotation++;
  for (const i of indices) {
    const gw = gws[memberIndexOf(i, rooms) % gws.length]!;
    shares[i % workers]!.push({
      token: mintToken(pop.userIds[i]!, JWT_SECRET),
      topic: `chat:${pop.roomIds[roomOf(i, rooms)]!}`,
      port: gw.port,
      localAddress: `127.0.0.${2 + ((i + rot) % cfg.sourceIps)}`,
    });
  }
  return shares;
}

const range = (from: number, to: number) => Array.from({ length: to - from }, (_, k) => from + k);

async function connectOrFail(workers: Workers, shares: ConnSpec[][], what: string) {
  const out = await workers.connect(shares, cfg.concurrency);
  log(
    `${what}: ${out.ok} joined, ${out.failed} failed in ${out.seconds.toFixed(1)} s` +
      (out.errors.length ? `\n  ${out.errors.join("\n  ")}` : ""),
  );
  return out;
}

// ---------------------------------------------------------------------------------------------
// Scenarios

interface Env {
  databaseUrl: string;
  redisUrl: string | undefined;
  pop: Population;
  workers: Workers;
}

async function idle(env: Env, nodes: number) {
  const n = cfg.sockets;
  const warm = cfg.warmupSockets;
  log(`idle, ${nodes} node(s): ${warm} warm-up + ${n} measured sockets`);
  const gws = await startGateways(
    nodes,
    { databaseUrl: env.databaseUrl, redisUrl: env.redisUrl },
    { inspect: true },
  );
  try {
    // Per gateway: RSS once it stops moving (what an operator sees), then after a forced full GC
    // (garbage from the connect path that no GC has looked at yet is not per-socket state).
    const measure = async () =>
      Promise.all(
        gws.map(async (g) => {
          const settled = await settledRss(g.pid);
          await g.gc!.collect();
          const gced = await settledRss(g.pid);
          const heap = await g.gc!.heapUsed();
          return { settled: settled.rss, gced: gced.rss, heap, stable: settled.stable && gced.stable };
        }),
      );
    const fresh = await measure();
    if (warm > 0)
      await connectOrFail(env.workers, plan(range(0, warm), env.pop, gws, env.workers.size), "warm-up");
    const before = await measure();
    const out = await connectOrFail(
      env.workers,
      plan(range(warm, warm + n), env.pop, gws, env.workers.size),
      "idle",
    );
    const after = await measure();
    const check = await env.workers.collect(0);
    const stats = await gatewayStats(gws);
    const joined = out.ok;
    if (cfg.heapSnapshot) {
      mkdirSync(RESULTS_DIR, { recursive: true });
      for (const g of gws) {
        const file = `${RESULTS_DIR}idle-${stamp}-${nodes}n-${g.nodeId}.heapsnapshot`;
        await g.gc!.heapSnapshot(file);
        log(`heap snapshot: ${file}`);
      }
    }
    const delta = (k: "settled" | "gced") => after.reduce((s, a, i) => s + a[k] - before[i]![k], 0);
    const fromFresh = after.reduce((s, a, i) => s + a.gced - fresh[i]!.gced, 0);
    const heapDelta = after.reduce((s, a, i) => s + a.heap - before[i]!.heap, 0);
    const result = {
      nodes,
      sockets: joined,
      failed: out.failed,
      perSocketBytes: delta("gced") / joined,
      perSocketBytesNoForcedGc: delta("settled") / joined,
      perSocketBytesFromFreshProcess: fromFresh / (joined + warm),
      /** Of perSocketBytes, live V8 heap (JavaScript objects); the rest is native (uWS, allocator). */
      perSocketJsHeapBytes: heapDelta / joined,
      rssMiB: gws.map((g, i) => ({
        node: g.nodeId,
        fresh: +mb(fresh[i]!.gced),
        before: +mb(before[i]!.gced),
        after: +mb(after[i]!.gced),
        afterNoForcedGc: +mb(after[i]!.settled),
        stable: after[i]!.stable && before[i]!.stable,
      })),
      stillOpen: check.open,
      closedUnexpectedly: check.closedUnexpectedly,
      connectSeconds: out.seconds,
      gatewayStats: stats,
    };
    await env.workers.closeAll();
    return result;
  } finally {
    await env.workers.closeAll().catch(() => 0);
    await stopGateways(gws);
  }
}

interface StepResult {
  step: number;
  kind: "warmup" | "ladder" | "half";
  offered: number;
  sentPerSec: number;
  deliveredMsgsPerSec: number;
  deliveriesPerSec: number;
  expected: number;
  delivered: number;
  lost: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  /** Send → reply (persisted; the broadcast has been handed to uWS and the bus). */
  ackP50Ms: number;
  ackP99Ms: number;
  gwCpuSeconds: number;
  gwCpuPct: number;
  /** Share of the gateway CPU spent in the kernel. */
  gwSysSharePct: number;
  deliveriesPerGwCpuSecond: number;
  machineCpuPct: number;
  clientCpuPct: number;
  /** Postgres + Redis (+ the runner itself): the bench's process tree minus gateways and clients. */
  infraCpuPct: number;
  /** CPU used by processes outside this bench (other work on the machine): noise in every number. */
  foreignCpuPct: number;
  replyErrors: number;
  senderLagMs: number;
  saturated: boolean;
  why: string;
}

let stepCounter = 0;
const P99_EXPLODED_US = 1_000_000;
/** Joined sockets per room on average (= --members unless some joins failed). */
let membersJoined = 0;

async function fanoutStep(
  env: Env,
  gws: Gateway[],
  kind: StepResult["kind"],
  rate: number,
  seconds: number,
  prevReplyErrors: number,
): Promise<StepResult & { replyErrorTotal: number; errorSamples: string[] }> {
  const step = ++stepCounter;
  const members = membersJoined;
  const before = await env.workers.collect(step);
  const cpu0 = gatewayCpu(gws);
  const sys0 = gatewaySys(gws);
  const tree0 = treeCpuSeconds(process.pid);
  const m0 = machineCpu();
  const t0 = performance.now();
  const { sent, lateMs, startAtUs } = await env.workers.step(step, rate, seconds * 1000);
  const expected = sent * members;
  // Drain: until every expected delivery is in, or nothing moved for 2 s, or 60 s passed.
  let got = await env.workers.collect(step);
  let last = got.deliveries;
  let lastMove = performance.now();
  const drainStart = performance.now();
  while (
    got.deliveries < expected &&
    performance.now() - lastMove < 2_000 &&
    performance.now() - drainStart < 60_000
  ) {
    await new Promise((r) => setTimeout(r, 200));
    got = await env.workers.collect(step);
    if (got.deliveries !== last) {
      last = got.deliveries;
      lastMove = performance.now();
    }
  }
  const wall = (performance.now() - t0) / 1000 - 0.2; // minus the scheduled start delay
  const gwCpu = gatewayCpu(gws) - cpu0;
  const gwSys = gatewaySys(gws) - sys0;
  const treeCpu = treeCpuSeconds(process.pid) - tree0;
  const m1 = machineCpu();
  const clientCpu = got.cpuSeconds - before.cpuSeconds;
  const machinePct = ((m1.busy - m0.busy) / Math.max(1, m1.total - m0.total)) * 100 * cpus().length;
  const hist: Histogram = got.hist;
  // Throughput over start → last receipt: equals the offered rate (less latency/duration) while
  // the system keeps up, and the drain rate of the backlog (the capacity) once it does not.
  const span = Math.max(seconds, (got.lastRecvUs - startAtUs) / 1e6);
  const deliveriesPerSec = got.deliveries / span;
  const deliveredMsgsPerSec = deliveriesPerSec / members;
  const p99 = hist.percentile(99);
  const replyErrors = got.replyError - prevReplyErrors;
  const reasons: string[] = [];
  // Round-robin senders hit every room alike, so expected = sent × members is exact up to rounding.
  if (deliveredMsgsPerSec < rate * 0.95) reasons.push("delivered < 95% of offered");
  // "Explodes": a queue that grows for a whole step. Not lower: on a shared 2-core machine other
  // processes alone can push p99 to a few hundred ms, which is noise, not saturation.
  if (p99 > P99_EXPLODED_US) reasons.push(`p99 > ${P99_EXPLODED_US / 1000} ms`);
  if (expected - got.deliveries > expected * 0.01) reasons.push("over 1% lost");
  if (replyErrors > sent * 0.005) reasons.push("send errors");
  return {
    step,
    kind,
    offered: rate,
    sentPerSec: sent / seconds,
    deliveredMsgsPerSec,
    deliveriesPerSec,
    expected,
    delivered: got.deliveries,
    lost: Math.max(0, expected - got.deliveries),
    p50Ms: hist.percentile(50) / 1000,
    p99Ms: p99 / 1000,
    maxMs: hist.max / 1000,
    ackP50Ms: got.ackHist.percentile(50) / 1000,
    ackP99Ms: got.ackHist.percentile(99) / 1000,
    gwCpuSeconds: gwCpu,
    gwCpuPct: (gwCpu / wall) * 100,
    gwSysSharePct: gwCpu > 0 ? (gwSys / gwCpu) * 100 : 0,
    deliveriesPerGwCpuSecond: gwCpu > 0 ? got.deliveries / gwCpu : Number.NaN,
    machineCpuPct: machinePct,
    clientCpuPct: (clientCpu / wall) * 100,
    infraCpuPct: ((treeCpu - gwCpu - clientCpu) / wall) * 100,
    foreignCpuPct: Math.max(0, machinePct - (treeCpu / wall) * 100),
    replyErrors,
    senderLagMs: lateMs,
    saturated: reasons.length > 0,
    why: reasons.join(", "),
    replyErrorTotal: got.replyError,
    errorSamples: got.errorSamples,
  };
}

async function fanout(env: Env, nodes: number) {
  const total = cfg.rooms * cfg.members;
  log(`fanout, ${nodes} node(s): ${cfg.rooms} rooms × ${cfg.members} members`);
  const bus = nodes === 1 && cfg.singleBus === "memory" ? undefined : env.redisUrl;
  const gws = await startGateways(nodes, { databaseUrl: env.databaseUrl, redisUrl: bus });
  try {
    const out = await connectOrFail(
      env.workers,
      plan(range(0, total), env.pop, gws, env.workers.size),
      "fanout",
    );
    // A few failed joins only shrink a few rooms; more would make the delivery counts meaningless.
    if (out.failed > total * 0.005) throw new Error(`fanout: ${out.failed} of ${total} joins failed`);
    membersJoined = out.ok / cfg.rooms;
    const steps: StepResult[] = [];
    let errs = 0;
    const run = async (kind: StepResult["kind"], rate: number, seconds: number) => {
      const r = await fanoutStep(env, gws, kind, rate, seconds, errs);
      errs = r.replyErrorTotal;
      const { replyErrorTotal: _t, errorSamples, ...row } = r;
      steps.push(row);
      log(
        `  ${kind} ${rate} msg/s: delivered ${row.deliveredMsgsPerSec.toFixed(0)} msg/s, p50 ${row.p50Ms.toFixed(2)} ms, ` +
          `p99 ${row.p99Ms.toFixed(2)} ms (ack p50 ${row.ackP50Ms.toFixed(2)} p99 ${row.ackP99Ms.toFixed(2)}), ` +
          `gw ${row.gwCpuPct.toFixed(0)}% (sys ${row.gwSysSharePct.toFixed(0)}% of it) pg+redis ${row.infraCpuPct.toFixed(0)}% clients ${row.clientCpuPct.toFixed(0)}% ` +
          `foreign ${row.foreignCpuPct.toFixed(0)}%, ${row.deliveriesPerGwCpuSecond.toFixed(0)} deliveries/gw-cpu-s` +
          (row.saturated ? ` — saturated (${row.why})` : "") +
          (errorSamples.length && row.replyErrors ? `\n    e.g. ${errorSamples[0]}` : ""),
      );
      return row;
    };
    // JIT and pools warm up on a short first step that is reported but not used.
    await run("warmup", cfg.rates[0]!, 3);
    let saturatedAt: StepResult | undefined;
    for (const rate of cfg.rates) {
      const r = await run("ladder", rate, cfg.stepSeconds);
      if (r.saturated) {
        saturatedAt = r;
        break;
      }
    }
    const ladder = steps.filter((s) => s.kind === "ladder");
    // Saturation = the most messages/s the system actually delivered (the ceiling it hit).
    const saturation = saturatedAt ? Math.max(...ladder.map((s) => s.deliveredMsgsPerSec)) : undefined;
    const halfRate = Math.max(1, Math.round((saturation ?? cfg.rates[cfg.rates.length - 1]!) / 2));
    const half = await run("half", halfRate, cfg.stepSeconds);
    const check = await env.workers.collect(0);
    const stats = await gatewayStats(gws);
    await env.workers.closeAll();
    return {
      nodes,
      bus: bus ? "redis" : "memory",
      sockets: out.ok,
      saturationMsgsPerSec: saturation ?? null,
      saturatedBecause: saturatedAt?.why ?? `not saturated up to ${cfg.rates[cfg.rates.length - 1]} msg/s`,
      half: {
        rate: halfRate,
        p50Ms: half.p50Ms,
        p99Ms: half.p99Ms,
        deliveriesPerGwCpuSecond: half.deliveriesPerGwCpuSecond,
      },
      steps,
      closedUnexpectedly: check.closedUnexpectedly,
      closeReasons: check.closeReasons,
      gatewayStats: stats,
    };
  } finally {
    await env.workers.closeAll().catch(() => 0);
    await stopGateways(gws);
  }
}

async function connectStorm(env: Env, nodes: number) {
  const n = cfg.connects;
  log(
    `connect, ${nodes} node(s): storm of ${n} connects + joins, ${cfg.workers} workers × ${cfg.concurrency} in flight`,
  );
  const gws = await startGateways(nodes, { databaseUrl: env.databaseUrl, redisUrl: env.redisUrl });
  try {
    const shares = plan(range(0, n), env.pop, gws, env.workers.size);
    const cpu0 = gatewayCpu(gws);
    const tree0 = treeCpuSeconds(process.pid);
    const m0 = machineCpu();
    const t0 = performance.now();
    const out = await connectOrFail(env.workers, shares, "connect");
    const cpu = gatewayCpu(gws) - cpu0;
    const tree = treeCpuSeconds(process.pid) - tree0;
    const m1 = machineCpu();
    const wall = (performance.now() - t0) / 1000;
    const machinePct = ((m1.busy - m0.busy) / Math.max(1, m1.total - m0.total)) * 100 * cpus().length;
    await env.workers.closeAll();
    return {
      nodes,
      sockets: n,
      joined: out.ok,
      failed: out.failed,
      errors: out.errors,
      seconds: out.seconds,
      perSecond: out.ok / out.seconds,
      p50Ms: out.hist.percentile(50) / 1000,
      p99Ms: out.hist.percentile(99) / 1000,
      maxMs: out.hist.max / 1000,
      gwCpuSeconds: cpu,
      gwCpuMsPerConnect: (cpu * 1000) / Math.max(1, out.ok),
      gwCpuPct: (cpu / wall) * 100,
      machineCpuPct: machinePct,
      foreignCpuPct: Math.max(0, machinePct - (tree / wall) * 100),
    };
  } finally {
    await env.workers.closeAll().catch(() => 0);
    await stopGateways(gws);
  }
}

// ---------------------------------------------------------------------------------------------
// presence: join/leave churn, convergence on every node

interface PresenceStepResult {
  step: number;
  kind: "warmup" | "ladder";
  /** Offered joins+leaves/s (all workers). */
  offered: number;
  issuedPerSec: number;
  /** Joins+leaves answered ok ÷ (step start → last reply, at least the window). */
  achievedPerSec: number;
  issued: number;
  acked: number;
  errors: number;
  /** Resolved ops: seen by the observers on every node. */
  converged: number;
  /** Not seen on every node within --presence-timeout-ms of the ack. */
  missing: number;
  missingLocal: number;
  missingRemote: number;
  refUnknown: number;
  /** Ack → seen on every node (max over the nodes' observers). */
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  /** Ack → seen on the churner's own node / on the other node. */
  localP99Ms: number;
  remoteP50Ms: number;
  remoteP99Ms: number;
  /** Request sent → seen on every node. */
  fromSendP99Ms: number;
  /** Request → reply. */
  ackP50Ms: number;
  ackP99Ms: number;
  gwCpuPct: number;
  gwSysSharePct: number;
  /** Gateway CPU ms per join+leave. */
  gwCpuMsPerOp: number;
  machineCpuPct: number;
  clientCpuPct: number;
  infraCpuPct: number;
  foreignCpuPct: number;
  /** Sightings in this step: leaves seen before their join, and joins/leaves seen twice on one node. */
  orderViolations: number;
  duplicates: number;
  /** How far the open-loop issuing fell behind the clock at worst (a busy client worker, or no idle churner). */
  senderLagMs: number;
  starvedTicks: number;
  drainSeconds: number;
  saturated: boolean;
  why: string;
  /** Achieved ≥ 95% of offered, p99 < 100 ms, nothing missing, no errors. */
  meetsTarget: boolean;
  errorSamples: string[];
}

const PRESENCE_TARGET_RATE = 5_000;
const PRESENCE_TARGET_P99_MS = 100;

async function presenceStep(
  env: Env,
  gws: Gateway[],
  kind: PresenceStepResult["kind"],
  rate: number,
  rates: number[],
  seconds: number,
): Promise<PresenceStepResult> {
  const step = ++stepCounter;
  const timeoutMs = cfg.presenceTimeoutMs;
  const before = await env.workers.presenceCollect(step, timeoutMs);
  const cpu0 = gatewayCpu(gws);
  const sys0 = gatewaySys(gws);
  const tree0 = treeCpuSeconds(process.pid);
  const m0 = machineCpu();
  const t0 = performance.now();
  const sent = await env.workers.presenceStep(
    step,
    rates.map((share) => rate * share),
    seconds * 1000,
  );
  // Drain: until every op is resolved (seen everywhere, or missing after the timeout).
  const drainStart = performance.now();
  let got: PresenceCollected = await env.workers.presenceCollect(step, timeoutMs);
  while (got.open > 0 && performance.now() - drainStart < timeoutMs + 15_000) {
    await new Promise((r) => setTimeout(r, 200));
    got = await env.workers.presenceCollect(step, timeoutMs);
  }
  const drainSeconds = (performance.now() - drainStart) / 1000;
  const wall = (performance.now() - t0) / 1000 - 0.2; // minus the scheduled start delay
  const gwCpu = gatewayCpu(gws) - cpu0;
  const gwSys = gatewaySys(gws) - sys0;
  const treeCpu = treeCpuSeconds(process.pid) - tree0;
  const m1 = machineCpu();
  const clientCpu = got.cpuSeconds - before.cpuSeconds;
  const machinePct = ((m1.busy - m0.busy) / Math.max(1, m1.total - m0.total)) * 100 * cpus().length;
  const s = got.stats;
  const span = Math.max(seconds, (got.lastAckUs - sent.startAtUs) / 1e6);
  const achieved = got.acked / span;
  const p99 = s.hist.percentile(99);
  const reasons: string[] = [];
  if (achieved < rate * 0.95) reasons.push("achieved < 95% of offered");
  if (p99 > P99_EXPLODED_US) reasons.push(`p99 > ${P99_EXPLODED_US / 1000} ms`);
  if (s.missing > got.acked * 0.01) reasons.push("over 1% missing");
  if (got.errors > got.issued * 0.005) reasons.push("join/leave errors");
  const ms = (us: number) => us / 1000;
  return {
    step,
    kind,
    offered: rate,
    issuedPerSec: got.issued / seconds,
    achievedPerSec: achieved,
    issued: got.issued,
    acked: got.acked,
    errors: got.errors,
    converged: s.converged,
    missing: s.missing,
    missingLocal: s.missingLocal,
    missingRemote: s.missingRemote,
    refUnknown: s.refUnknown,
    p50Ms: ms(s.hist.percentile(50)),
    p99Ms: ms(p99),
    maxMs: ms(s.hist.max),
    localP99Ms: ms(s.local.percentile(99)),
    remoteP50Ms: ms(s.remote.percentile(50)),
    remoteP99Ms: ms(s.remote.percentile(99)),
    fromSendP99Ms: ms(s.fromSend.percentile(99)),
    ackP50Ms: ms(got.ackHist.percentile(50)),
    ackP99Ms: ms(got.ackHist.percentile(99)),
    gwCpuPct: (gwCpu / wall) * 100,
    gwSysSharePct: gwCpu > 0 ? (gwSys / gwCpu) * 100 : 0,
    gwCpuMsPerOp: got.acked > 0 ? (gwCpu * 1000) / got.acked : Number.NaN,
    machineCpuPct: machinePct,
    clientCpuPct: (clientCpu / wall) * 100,
    infraCpuPct: ((treeCpu - gwCpu - clientCpu) / wall) * 100,
    foreignCpuPct: Math.max(0, machinePct - (treeCpu / wall) * 100),
    orderViolations: got.orderViolations - before.orderViolations,
    duplicates: got.duplicates - before.duplicates,
    senderLagMs: sent.lateMs,
    starvedTicks: sent.starvedTicks,
    drainSeconds,
    saturated: reasons.length > 0,
    why: reasons.join(", "),
    meetsTarget:
      achieved >= rate * 0.95 && ms(p99) < PRESENCE_TARGET_P99_MS && s.missing === 0 && got.errors === 0,
    errorSamples: got.errorSamples,
  };
}

async function presence(env: Env, nodes: number) {
  const rooms = cfg.presenceRooms;
  const churners = cfg.churners;
  const observers = nodes * rooms;
  log(
    `presence, ${nodes} node(s): ${rooms} rooms × ${nodes} observer(s), ${churners} churners ` +
      `(~${Math.round(churners / 2 / rooms)} present per room)`,
  );
  // Its own population: user i is a member of room i mod rooms; the first `observers` users
  // observe (member index = node), the rest churn (member index mod nodes = node).
  const pop = await seed(env.databaseUrl, { users: observers + churners, rooms });
  const gws = await startGateways(nodes, { databaseUrl: env.databaseUrl, redisUrl: env.redisUrl });
  const loadStart = loadavg();
  try {
    const W = env.workers.size;
    // A room's observers and churners share a worker, which matches sightings to ops locally.
    const shares: PresenceConn[][] = Array.from({ length: W }, () => []);
    const rot = ipRotation++;
    for (let i = 0; i < observers + churners; i++) {
      const room = roomOf(i, rooms);
      const node = memberIndexOf(i, rooms) % nodes;
      shares[room % W]!.push({
        role: i < observers ? "observer" : "churner",
        room,
        node,
        key: pop.userIds[i]!,
        token: mintToken(pop.userIds[i]!, JWT_SECRET),
        topic: `chat:${pop.roomIds[room]!}`,
        port: gws[node]!.port,
        localAddress: `127.0.0.${2 + ((i + rot) % cfg.sourceIps)}`,
      });
    }
    const setup = await env.workers.presenceSetup(shares, nodes, cfg.concurrency);
    log(
      `presence: ${setup.observers} observers joined, ${setup.churners} churners connected, ${setup.failed} failed` +
        (setup.errors.length ? `\n  ${setup.errors.join("\n  ")}` : ""),
    );
    if (setup.observers < observers || setup.churners < churners * 0.99)
      throw new Error(`presence: setup incomplete (${setup.failed} sockets failed)`);
    const pre = await env.workers.presencePrefill(32, 60_000);
    log(
      `presence: prefill joined ${pre.joined} churners in ${pre.seconds.toFixed(1)} s (${pre.errors} errors)`,
    );
    // Each worker offers the share of the rate its churners are.
    const perWorker = shares.map((s) => s.filter((c) => c.role === "churner").length / setup.churners);
    const steps: PresenceStepResult[] = [];
    const run = async (kind: PresenceStepResult["kind"], rate: number, seconds: number) => {
      const r = await presenceStep(env, gws, kind, rate, perWorker, seconds);
      steps.push(r);
      log(
        `  ${kind} ${rate} ops/s: achieved ${r.achievedPerSec.toFixed(0)}/s, converged p50 ${r.p50Ms.toFixed(2)} ms ` +
          `p99 ${r.p99Ms.toFixed(2)} ms max ${r.maxMs.toFixed(0)} ms (remote p99 ${r.remoteP99Ms.toFixed(2)}, ` +
          `ack p99 ${r.ackP99Ms.toFixed(2)}), missing ${r.missing}, errors ${r.errors}, gw ${r.gwCpuPct.toFixed(0)}% ` +
          `(${r.gwCpuMsPerOp.toFixed(3)} ms/op) pg+redis ${r.infraCpuPct.toFixed(0)}% clients ${r.clientCpuPct.toFixed(0)}% ` +
          `foreign ${r.foreignCpuPct.toFixed(0)}%` +
          (r.saturated && kind !== "warmup" ? ` — saturated (${r.why})` : "") +
          (r.errorSamples.length && r.errors ? `\n    e.g. ${r.errorSamples[0]}` : ""),
      );
      return r;
    };
    await run("warmup", cfg.presenceRates[0]!, 3);
    for (const rate of cfg.presenceRates) {
      const r = await run("ladder", rate, cfg.stepSeconds);
      if (r.saturated) break;
    }
    const verify = await env.workers.presenceVerify(10_000);
    log(
      `presence: final views: ${verify.live.mismatched} of ${verify.live.observers} observers differ from the truth ` +
        `(${verify.joinedChurners} churners joined); fresh presence_state: ${verify.snapshot.mismatched} of ` +
        `${verify.snapshot.observers} differ, ${verify.snapshotErrors} errors`,
    );
    const last = await env.workers.presenceCollect(stepCounter, cfg.presenceTimeoutMs);
    const stats = await gatewayStats(gws);
    await env.workers.closeAll();
    const ladder = steps.filter((s) => s.kind === "ladder");
    const best = ladder.filter((s) => s.meetsTarget).map((s) => s.offered);
    return {
      nodes,
      rooms,
      observers: setup.observers,
      churners: setup.churners,
      presentPerRoom: pre.joined / rooms,
      highestRateMeetingTarget: best.length ? Math.max(...best) : null,
      steps,
      verify,
      /** Over the whole run up to the final check (prefill and warm-up included). */
      orderViolations: verify.orderViolations,
      duplicateSightings: verify.duplicates,
      closedUnexpectedly: last.closedUnexpectedly,
      loadAvg: { start: loadStart, end: loadavg() },
      gatewayStats: stats,
    };
  } finally {
    await env.workers.closeAll().catch(() => 0);
    await stopGateways(gws);
  }
}

function presenceTables(rows: Awaited<ReturnType<typeof presence>>[]): string[] {
  return rows.map((r) => {
    const best = r.highestRateMeetingTarget;
    const ok = best !== null && best >= PRESENCE_TARGET_RATE;
    const v = r.verify;
    const viewLine = (name: string, c: PresenceVerifyResult["live"]) =>
      `${name}: ${c.mismatched} of ${c.observers} observers differ (missing keys ${c.missingKeys}, extra ${c.extraKeys}, wrong refs ${c.wrongRefs})` +
      (c.samples.length ? ` e.g. ${c.samples.slice(0, 2).join("; ")}` : "");
    const table = formatTable(
      `presence, ${r.nodes} node(s): ${r.rooms} rooms × ${r.nodes} observer(s), ${r.churners} churners (~${r.presentPerRoom.toFixed(0)} present per room); ` +
        `highest rate with p99 < ${PRESENCE_TARGET_P99_MS} ms and nothing missing: ${best ?? "none"} ops/s ` +
        `[${pass(ok)} ≥ ${PRESENCE_TARGET_RATE}]`,
      [
        "step",
        "offered/s",
        "achieved/s",
        "conv p50 ms",
        "conv p99 ms",
        "max ms",
        "remote p99",
        "local p99",
        "send→conv p99",
        "ack p99",
        "missing",
        "errors",
        "dup",
        "gw CPU %",
        "gw ms/op",
        "pg+redis %",
        "client %",
        "foreign %",
        "issue lag ms",
        "note",
      ],
      r.steps.map((s) => [
        s.kind,
        s.offered,
        s.achievedPerSec.toFixed(0),
        s.p50Ms.toFixed(2),
        s.p99Ms.toFixed(2),
        s.maxMs.toFixed(1),
        Number.isNaN(s.remoteP99Ms) ? "-" : s.remoteP99Ms.toFixed(2),
        s.localP99Ms.toFixed(2),
        s.fromSendP99Ms.toFixed(2),
        s.ackP99Ms.toFixed(2),
        s.missing,
        s.errors,
        s.duplicates,
        s.gwCpuPct.toFixed(0),
        s.gwCpuMsPerOp.toFixed(3),
        s.infraCpuPct.toFixed(0),
        s.clientCpuPct.toFixed(0),
        s.foreignCpuPct.toFixed(0),
        s.senderLagMs.toFixed(0),
        s.kind === "warmup"
          ? "warm-up (not rated)"
          : s.saturated
            ? `SATURATED: ${s.why}`
            : s.meetsTarget
              ? ""
              : "over target",
      ]),
    );
    return [
      table,
      viewLine("final views (presence_state + diffs)", v.live),
      viewLine("fresh presence_state (churners only)", v.snapshot) +
        (v.snapshotErrors ? `, ${v.snapshotErrors} rejoin errors` : ""),
      `order violations (leave before its join) ${r.orderViolations}, duplicate sightings ${r.duplicateSightings}, ` +
        `churners with unknown ref ${v.refUnknown}, unsettled ${v.unsettledChurners}; ` +
        `load average ${r.loadAvg.start.map((x) => x.toFixed(2)).join(" ")} → ${r.loadAvg.end.map((x) => x.toFixed(2)).join(" ")}`,
    ].join("\n");
  });
}

// ---------------------------------------------------------------------------------------------
// Main

async function k6Fixture(file: string): Promise<void> {
  const url = process.env.DATABASE_URL;
  if (!url || !process.env.JWT_SECRET) {
    console.error("--k6-fixture seeds the deployment's database: set DATABASE_URL and its JWT_SECRET");
    process.exit(2);
  }
  const users = Math.max(cfg.rooms * cfg.members, cfg.sockets);
  const pop = await seed(url, { users, rooms: cfg.rooms });
  const entries = pop.userIds.map((id, i) => ({
    token: mintToken(id, JWT_SECRET),
    topic: `chat:${pop.roomIds[roomOf(i, cfg.rooms)]!}`,
  }));
  writeFileSync(file, JSON.stringify({ rooms: cfg.rooms, members: cfg.members, entries }));
  log(`wrote ${entries.length} tokens (${cfg.rooms} rooms) to ${file}`);
}

async function main(): Promise<void> {
  if (opt["k6-fixture"]) return k6Fixture(opt["k6-fixture"]);
  const started = new Date();
  const loadAvgStart = loadavg();
  log(`load average ${loadAvgStart.map((x) => x.toFixed(2)).join(" ")} on ${cpus().length} CPUs`);
  let pg: PostgresServer | undefined;
  let redis: RedisServer | undefined;
  let databaseUrl = process.env.DATABASE_URL;
  let redisUrl = process.env.REDIS_URL;
  if (!databaseUrl) {
    log("starting a throwaway Postgres");
    pg = await startPostgres();
    cleanups.push(() => pg!.stop());
    databaseUrl = pg.url;
  }
  if (!redisUrl) {
    log("starting a throwaway Redis");
    redis = await startRedis();
    cleanups.push(() => redis!.stop());
    redisUrl = redis.url;
  }
  // presence seeds its own population; the shared one serves the other scenarios.
  const users = wanted.every((s) => s === "presence") ? 1 : Math.max(largest, cfg.rooms * cfg.members);
  log(`seeding ${users} users in ${cfg.rooms} rooms`);
  const pop = await seed(databaseUrl, { users, rooms: cfg.rooms });
  const workers = await Workers.start(WORKER_SCRIPT, cfg.workers);
  cleanups.push(async () => workers.stop());
  const env: Env = { databaseUrl, redisUrl, pop, workers };

  const results: Record<string, unknown[]> = {};
  const tables: string[] = [];
  for (const s of wanted) {
    results[s] = [];
    for (const nodes of cfg.nodes) {
      const r =
        s === "idle"
          ? await idle(env, nodes)
          : s === "fanout"
            ? await fanout(env, nodes)
            : s === "connect"
              ? await connectStorm(env, nodes)
              : await presence(env, nodes);
      results[s]!.push(r);
    }
  }
  if (results.idle) tables.push(idleTable(results.idle as Awaited<ReturnType<typeof idle>>[]));
  if (results.fanout) tables.push(...fanoutTables(results.fanout as Awaited<ReturnType<typeof fanout>>[]));
  if (results.connect)
    tables.push(connectTable(results.connect as Awaited<ReturnType<typeof connectStorm>>[]));
  if (results.presence)
    tables.push(...presenceTables(results.presence as Awaited<ReturnType<typeof presence>>[]));
  const comparison = results.fanout
    ? compare(results.fanout as Awaited<ReturnType<typeof fanout>>[])
    : undefined;
  if (comparison) tables.push(comparison.text);

  const report = {
    startedAt: started.toISOString(),
    finishedAt: new Date().toISOString(),
    machine: {
      cpus: cpus().length,
      cpuModel: cpus()[0]?.model,
      memGiB: +(totalmem() / 2 ** 30).toFixed(1),
      node: process.version,
      /** 1/5/15-minute load averages when the run started and ended (other work on the machine). */
      loadAvgStart,
      loadAvgEnd: loadavg(),
    },
    config: { ...cfg, externalPostgres: !pg, externalRedis: !redis },
    gateway: gatewayBuild(),
    targets: {
      rssPerIdleSocketBytes: 2048,
      twoNodeEfficiencyRatio: 0.5,
      p99AtHalfSaturationMs: 10,
      presenceOpsPerSec: PRESENCE_TARGET_RATE,
      presenceConvergenceP99Ms: PRESENCE_TARGET_P99_MS,
    },
    results: { ...results, ...(comparison ? { twoVsOneNode: comparison.data } : {}) },
  };
  mkdirSync(RESULTS_DIR, { recursive: true });
  const file = `${RESULTS_DIR}${stamp}.json`;
  writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
  console.log(`\n${tables.join("\n\n")}\n\nresults: ${file}`);
}

/** Which gateway was measured: the numbers belong to one exact build. */
function gatewayBuild() {
  const git = (...args: string[]) => {
    try {
      return execFileSync("git", args, { cwd: here("../.."), encoding: "utf8" }).trim();
    } catch {
      return null;
    }
  };
  return {
    script: GATEWAY_SCRIPT,
    sha256: createHash("sha256").update(readFileSync(GATEWAY_SCRIPT)).digest("hex"),
    builtAt: statSync(GATEWAY_SCRIPT).mtime.toISOString(),
    commit: git("rev-parse", "HEAD"),
    uncommittedChanges:
      git("status", "--porcelain", "--", "apps", "packages")?.split("\n").filter(Boolean).length ?? null,
  };
}

// ---------------------------------------------------------------------------------------------
// Tables

const pass = (ok: boolean) => (ok ? "PASS" : "MISS");

function idleTable(rows: Awaited<ReturnType<typeof idle>>[]): string {
  return formatTable(
    "idle: gateway RSS per idle joined socket (target ≤ 2048 B)",
    [
      "nodes",
      "sockets",
      "B/socket (GC'd)",
      "of which JS heap",
      "B/socket (settled)",
      "B/socket (from fresh)",
      "RSS after MiB",
      "target",
    ],
    rows.map((r) => [
      r.nodes,
      r.sockets,
      r.perSocketBytes.toFixed(0),
      r.perSocketJsHeapBytes.toFixed(0),
      r.perSocketBytesNoForcedGc.toFixed(0),
      r.perSocketBytesFromFreshProcess.toFixed(0),
      r.rssMiB.map((x) => x.after).join(" + "),
      pass(r.perSocketBytes <= 2048),
    ]),
  );
}

function fanoutTables(rows: Awaited<ReturnType<typeof fanout>>[]): string[] {
  return rows.map((r) =>
    formatTable(
      `fanout, ${r.nodes} node(s), bus ${r.bus}: ${cfg.rooms} rooms × ${cfg.members} members; saturation ${
        r.saturationMsgsPerSec === null
          ? `> ${cfg.rates[cfg.rates.length - 1]}`
          : r.saturationMsgsPerSec.toFixed(0)
      } msg/s; p99 at half (${r.half.rate} msg/s) ${r.half.p99Ms.toFixed(2)} ms [${pass(r.half.p99Ms < 10)} < 10 ms]`,
      [
        "step",
        "offered/s",
        "sent/s",
        "delivered msg/s",
        "deliveries/s",
        "p50 ms",
        "p99 ms",
        "max ms",
        "ack p99",
        "gw CPU %",
        "deliv/gw-CPU-s",
        "pg+redis %",
        "client %",
        "foreign %",
        "lost",
        "note",
      ],
      r.steps.map((s) => [
        s.kind,
        s.offered,
        s.sentPerSec.toFixed(0),
        s.deliveredMsgsPerSec.toFixed(0),
        s.deliveriesPerSec.toFixed(0),
        s.p50Ms.toFixed(2),
        s.p99Ms.toFixed(2),
        s.maxMs.toFixed(1),
        s.ackP99Ms.toFixed(2),
        s.gwCpuPct.toFixed(0),
        s.deliveriesPerGwCpuSecond.toFixed(0),
        s.infraCpuPct.toFixed(0),
        s.clientCpuPct.toFixed(0),
        s.foreignCpuPct.toFixed(0),
        s.lost,
        s.saturated ? `SATURATED: ${s.why}` : "",
      ]),
    ),
  );
}

function compare(rows: Awaited<ReturnType<typeof fanout>>[]) {
  const one = rows.find((r) => r.nodes === 1);
  const two = rows.find((r) => r.nodes === 2);
  if (!one || !two) return undefined;
  // Efficiency compares like with like: rates both cluster sizes delivered in full (a latency
  // spike alone does not disqualify a step; a backlog does, since its CPU is spent later).
  const ok = (s: StepResult) =>
    s.kind === "ladder" && s.deliveredMsgsPerSec >= s.offered * 0.95 && s.lost <= s.expected * 0.01;
  const perRate = one.steps
    .filter(ok)
    .map((a) => ({ a, b: two.steps.find((b) => ok(b) && b.offered === a.offered) }))
    .filter((x): x is { a: StepResult; b: StepResult } => x.b !== undefined)
    .map(({ a, b }) => ({
      rate: a.offered,
      oneNode: a.deliveriesPerGwCpuSecond,
      twoNodes: b.deliveriesPerGwCpuSecond,
      ratio: b.deliveriesPerGwCpuSecond / a.deliveriesPerGwCpuSecond,
    }));
  const headline = perRate[perRate.length - 1];
  const text = formatTable(
    `2 nodes vs 1: deliveries per gateway CPU-second (target ratio ≥ 0.50)${
      headline
        ? `; at ${headline.rate} msg/s ${headline.ratio.toFixed(2)} [${pass(headline.ratio >= 0.5)}]`
        : ""
    }`,
    ["offered msg/s", "1 node", "2 nodes", "ratio"],
    perRate.map((p) => [p.rate, p.oneNode.toFixed(0), p.twoNodes.toFixed(0), p.ratio.toFixed(2)]),
  );
  return { text, data: { perRate, headline: headline ?? null } };
}

function connectTable(rows: Awaited<ReturnType<typeof connectStorm>>[]): string {
  return formatTable(
    "connect: storm of connects + joins",
    [
      "nodes",
      "joined",
      "failed",
      "seconds",
      "joins/s",
      "p50 ms",
      "p99 ms",
      "max ms",
      "gw CPU ms/join",
      "gw CPU %",
      "foreign %",
    ],
    rows.map((r) => [
      r.nodes,
      r.joined,
      r.failed,
      r.seconds.toFixed(2),
      r.perSecond.toFixed(0),
      r.p50Ms.toFixed(1),
      r.p99Ms.toFixed(1),
      r.maxMs.toFixed(0),
      r.gwCpuMsPerConnect.toFixed(3),
      r.gwCpuPct.toFixed(0),
      r.foreignCpuPct.toFixed(0),
    ]),
  );
}

main()
  .then(() => cleanup())
  .then(() => process.exit(0))
  .catch(async (e: Error) => {
    console.error(`bench failed: ${e.stack ?? e.message}`);
    await cleanup();
    process.exit(1);
  });
