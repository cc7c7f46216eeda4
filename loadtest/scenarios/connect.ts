/**
 * @module
 * The `connect` scenario: a storm of N connects + joins from every worker at once; joins per
 * second and gateway CPU per join.
 */
import { cpus } from "node:os";
import { gatewayCpu, startGateways, stopGateways } from "../lib/gateways.js";
import { log } from "../lib/log.js";
import { machineCpu, treeCpuSeconds } from "../lib/proc.js";
import { formatTable } from "../lib/table.js";
import { connectOrFail, type Env, plan, range } from "./env.js";

export type ConnectResult = Awaited<ReturnType<typeof connectStorm>>;

export async function connectStorm(env: Env, nodes: number) {
  const { cfg } = env;
  const n = cfg.connects;
  log(
    `connect, ${nodes} node(s): storm of ${n} connects + joins, ${cfg.workers} workers × ${cfg.concurrency} in flight`,
  );
  const gws = await startGateways(env.gateways, nodes, {
    databaseUrl: env.databaseUrl,
    redisUrl: env.redisUrl,
  });
  try {
    const shares = plan(env, range(0, n), gws);
    const cpu0 = gatewayCpu(gws);
    const tree0 = treeCpuSeconds(process.pid);
    const m0 = machineCpu();
    const t0 = performance.now();
    const out = await connectOrFail(env, shares, "connect");
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

export function connectTable(rows: ConnectResult[]): string {
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
