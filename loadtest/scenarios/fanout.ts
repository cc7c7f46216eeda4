/**
 * @module
 * The `fanout` scenario: rooms × members, every member sending to its room at a ladder of offered
 * rates up to saturation, then at half of it; and the 2-nodes-vs-1 efficiency comparison.
 */
import { cpus } from "node:os";
import { histogramQuantile } from "@nexus/http/prometheus-text";
import {
  type Gateway,
  gatewayCpu,
  gatewayStats,
  gatewaySys,
  newMsgHandleBuckets,
  startGateways,
  stopGateways,
} from "../lib/gateways.js";
import type { Histogram } from "../lib/histogram.js";
import { log } from "../lib/log.js";
import type { Config } from "../lib/options.js";
import { machineCpu, treeCpuSeconds } from "../lib/proc.js";
import { formatTable, pass } from "../lib/table.js";
import { connectOrFail, type Env, plan, range } from "./env.js";
import { nextStep, P99_EXPLODED_US } from "./ladder.js";

export interface StepResult {
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
  /** Inside the gateways: the new_msg handler's time (Postgres write included), from their /metrics. */
  gwHandleP50Ms: number;
  gwHandleP99Ms: number;
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

export type FanoutResult = Awaited<ReturnType<typeof fanout>>;

async function fanoutStep(
  env: Env,
  gws: Gateway[],
  kind: StepResult["kind"],
  rate: number,
  seconds: number,
  prevReplyErrors: number,
  /** Joined sockets per room on average (= --members unless some joins failed). */
  members: number,
): Promise<StepResult & { replyErrorTotal: number; errorSamples: string[] }> {
  const step = nextStep();
  const before = await env.workers.collect(step);
  const handle0 = await newMsgHandleBuckets(gws);
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
  const handle1 = await newMsgHandleBuckets(gws);
  const handled = new Map([...handle1].map(([le, n]) => [le, n - (handle0.get(le) ?? 0)]));
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
    gwHandleP50Ms: histogramQuantile(0.5, handled) * 1000,
    gwHandleP99Ms: histogramQuantile(0.99, handled) * 1000,
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

export async function fanout(env: Env, nodes: number) {
  const { cfg } = env;
  const total = cfg.rooms * cfg.members;
  log(`fanout, ${nodes} node(s): ${cfg.rooms} rooms × ${cfg.members} members`);
  const bus = nodes === 1 && cfg.singleBus === "memory" ? undefined : env.redisUrl;
  const gws = await startGateways(env.gateways, nodes, { databaseUrl: env.databaseUrl, redisUrl: bus });
  try {
    const out = await connectOrFail(env, plan(env, range(0, total), gws), "fanout");
    // A few failed joins only shrink a few rooms; more would make the delivery counts meaningless.
    if (out.failed > total * 0.005) throw new Error(`fanout: ${out.failed} of ${total} joins failed`);
    const membersJoined = out.ok / cfg.rooms;
    const steps: StepResult[] = [];
    let errs = 0;
    const run = async (kind: StepResult["kind"], rate: number, seconds: number) => {
      const r = await fanoutStep(env, gws, kind, rate, seconds, errs, membersJoined);
      errs = r.replyErrorTotal;
      const { replyErrorTotal: _t, errorSamples, ...row } = r;
      steps.push(row);
      log(
        `  ${kind} ${rate} msg/s: delivered ${row.deliveredMsgsPerSec.toFixed(0)} msg/s, p50 ${row.p50Ms.toFixed(2)} ms, ` +
          `p99 ${row.p99Ms.toFixed(2)} ms (ack p50 ${row.ackP50Ms.toFixed(2)} p99 ${row.ackP99Ms.toFixed(2)}; ` +
          `in the gateway p50 ${row.gwHandleP50Ms.toFixed(2)} p99 ${row.gwHandleP99Ms.toFixed(2)}), ` +
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
        gwHandleP99Ms: half.gwHandleP99Ms,
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

export function fanoutTables(cfg: Config, rows: FanoutResult[]): string[] {
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
        "gw handle p99",
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
        s.gwHandleP99Ms.toFixed(2),
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

/** Deliveries per gateway CPU-second, 2 nodes vs 1; undefined unless both ran. */
export function compare(rows: FanoutResult[]) {
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
