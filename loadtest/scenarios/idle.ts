/**
 * @module
 * The `idle` scenario: N connected and joined sockets that only heartbeat; the gateways' RSS per
 * idle joined socket.
 */
import { mkdirSync } from "node:fs";
import { gatewayStats, startGateways, stopGateways } from "../lib/gateways.js";
import { log } from "../lib/log.js";
import { settledRss } from "../lib/proc.js";
import { formatTable, pass } from "../lib/table.js";
import { connectOrFail, type Env, plan, range } from "./env.js";

const mb = (b: number) => (b / 1048576).toFixed(1);

export type IdleResult = Awaited<ReturnType<typeof idle>>;

export async function idle(env: Env, nodes: number) {
  const { cfg } = env;
  const n = cfg.sockets;
  const warm = cfg.warmupSockets;
  log(`idle, ${nodes} node(s): ${warm} warm-up + ${n} measured sockets`);
  const gws = await startGateways(
    env.gateways,
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
    if (warm > 0) await connectOrFail(env, plan(env, range(0, warm), gws), "warm-up");
    const before = await measure();
    const out = await connectOrFail(env, plan(env, range(warm, warm + n), gws), "idle");
    const after = await measure();
    const check = await env.workers.collect(0);
    const stats = await gatewayStats(gws);
    const joined = out.ok;
    if (cfg.heapSnapshot) {
      mkdirSync(env.resultsDir, { recursive: true });
      for (const g of gws) {
        const file = `${env.resultsDir}idle-${env.stamp}-${nodes}n-${g.nodeId}.heapsnapshot`;
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

export function idleTable(rows: IdleResult[]): string {
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
