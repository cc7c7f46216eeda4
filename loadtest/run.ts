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
 * This file parses the options and runs the scenarios (scenarios/) in order; the pieces they
 * share live in lib/.
 */
import { randomBytes } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { cpus, loadavg, totalmem } from "node:os";
import { fileURLToPath } from "node:url";
import { type PostgresServer, type RedisServer, startPostgres, startRedis } from "@nexus/testkit";
import { cleanup, onCleanup, stopOnSignalsAndDeadline } from "./lib/cleanup.js";
import { gatewayBuild } from "./lib/gateways.js";
import { k6Fixture } from "./lib/k6-fixture.js";
import { log } from "./lib/log.js";
import { parseOptions } from "./lib/options.js";
import { seed } from "./lib/seed.js";
import { Workers } from "./lib/workers.js";
import { type ConnectResult, connectStorm, connectTable } from "./scenarios/connect.js";
import type { Env } from "./scenarios/env.js";
import { compare, type FanoutResult, fanout, fanoutTables } from "./scenarios/fanout.js";
import { type IdleResult, idle, idleTable } from "./scenarios/idle.js";
import {
  PRESENCE_TARGET_P99_MS,
  PRESENCE_TARGET_RATE,
  type PresenceResult,
  presence,
  presenceTables,
} from "./scenarios/presence.js";

const { cfg, wanted, largest, k6Fixture: k6FixtureFile } = parseOptions();

// Resolved here, in the entry point, because import.meta.url is the bundle's (dist/run.js, into
// which esbuild inlines lib/ and scenarios/), whatever module uses the path.
const here = (rel: string) => fileURLToPath(new URL(rel, import.meta.url));
const GATEWAY_SCRIPT = process.env.GATEWAY_SCRIPT ?? here("../../apps/gateway/dist/main.js");
const WORKER_SCRIPT = here("./lib/client-worker.js");
const RESULTS_DIR = here("../results/");
const stamp = new Date().toISOString().replace(/[:.]/g, "-");
const JWT_SECRET = process.env.JWT_SECRET ?? randomBytes(32).toString("base64url");

stopOnSignalsAndDeadline(cfg.maxMinutes);

async function main(): Promise<void> {
  if (k6FixtureFile) return k6Fixture(k6FixtureFile, cfg, JWT_SECRET);
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
    onCleanup(() => pg!.stop());
    databaseUrl = pg.url;
  }
  if (!redisUrl) {
    log("starting a throwaway Redis");
    redis = await startRedis();
    onCleanup(() => redis!.stop());
    redisUrl = redis.url;
  }
  // presence seeds its own population; the shared one serves the other scenarios.
  const users = wanted.every((s) => s === "presence") ? 1 : Math.max(largest, cfg.rooms * cfg.members);
  log(`seeding ${users} users in ${cfg.rooms} rooms`);
  const pop = await seed(databaseUrl, { users, rooms: cfg.rooms });
  const workers = await Workers.start(WORKER_SCRIPT, cfg.workers);
  onCleanup(async () => workers.stop());
  const env: Env = {
    cfg,
    databaseUrl,
    redisUrl,
    pop,
    workers,
    gateways: {
      script: GATEWAY_SCRIPT,
      jwtSecret: JWT_SECRET,
      extraEnv: cfg.gatewayEnv,
      cpuProfDir: cfg.cpuProf ? `${RESULTS_DIR}prof-${stamp}` : undefined,
    },
    jwtSecret: JWT_SECRET,
    resultsDir: RESULTS_DIR,
    stamp,
  };

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
  if (results.idle) tables.push(idleTable(results.idle as IdleResult[]));
  if (results.fanout) tables.push(...fanoutTables(cfg, results.fanout as FanoutResult[]));
  if (results.connect) tables.push(connectTable(results.connect as ConnectResult[]));
  if (results.presence) tables.push(...presenceTables(results.presence as PresenceResult[]));
  const comparison = results.fanout ? compare(results.fanout as FanoutResult[]) : undefined;
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
    gateway: gatewayBuild(GATEWAY_SCRIPT, here("../..")),
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

main()
  .then(() => cleanup())
  .then(() => process.exit(0))
  .catch(async (e: Error) => {
    console.error(`bench failed: ${e.stack ?? e.message}`);
    await cleanup();
    process.exit(1);
  });
