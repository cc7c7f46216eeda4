/**
 * @module
 * The `presence` scenario: churners join and leave rooms at a ladder of rates while one observer
 * per room and node watches; how long until every node saw each join/leave, and whether every
 * view ends up right.
 */
import { cpus, loadavg } from "node:os";
import {
  type Gateway,
  gatewayCpu,
  gatewayStats,
  gatewaySys,
  startGateways,
  stopGateways,
} from "../lib/gateways.js";
import type { PresenceConn, PresenceVerifyResult } from "../lib/ipc.js";
import { mintToken } from "../lib/jwt.js";
import { log } from "../lib/log.js";
import { machineCpu, treeCpuSeconds } from "../lib/proc.js";
import { memberIndexOf, roomOf, seed } from "../lib/seed.js";
import { formatTable, pass } from "../lib/table.js";
import type { PresenceCollected } from "../lib/workers.js";
import { type Env, nextIpRotation, sourceAddress } from "./env.js";
import { lastStep, nextStep, P99_EXPLODED_US } from "./ladder.js";

export interface PresenceStepResult {
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

export const PRESENCE_TARGET_RATE = 5_000;
export const PRESENCE_TARGET_P99_MS = 100;

export type PresenceResult = Awaited<ReturnType<typeof presence>>;

async function presenceStep(
  env: Env,
  gws: Gateway[],
  kind: PresenceStepResult["kind"],
  rate: number,
  rates: number[],
  seconds: number,
): Promise<PresenceStepResult> {
  const step = nextStep();
  const timeoutMs = env.cfg.presenceTimeoutMs;
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

export async function presence(env: Env, nodes: number) {
  const { cfg } = env;
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
  const gws = await startGateways(env.gateways, nodes, {
    databaseUrl: env.databaseUrl,
    redisUrl: env.redisUrl,
  });
  const loadStart = loadavg();
  try {
    const W = env.workers.size;
    // A room's observers and churners share a worker, which matches sightings to ops locally.
    const shares: PresenceConn[][] = Array.from({ length: W }, () => []);
    const rot = nextIpRotation();
    for (let i = 0; i < observers + churners; i++) {
      const room = roomOf(i, rooms);
      const node = memberIndexOf(i, rooms) % nodes;
      shares[room % W]!.push({
        role: i < observers ? "observer" : "churner",
        room,
        node,
        key: pop.userIds[i]!,
        token: mintToken(pop.userIds[i]!, env.jwtSecret),
        topic: `chat:${pop.roomIds[room]!}`,
        port: gws[node]!.port,
        localAddress: sourceAddress(env, i, rot),
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
    const last = await env.workers.presenceCollect(lastStep(), cfg.presenceTimeoutMs);
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

export function presenceTables(rows: PresenceResult[]): string[] {
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
