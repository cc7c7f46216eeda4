/**
 * @module
 * The runner's command line: the help text, the scenarios asked for and the validated config.
 * The config is also written to the results JSON as `config`, so its keys and their order are
 * part of that format.
 */
import { parseArgs } from "node:util";

export const HELP = `usage: node loadtest/dist/run.js [idle|fanout|connect|presence|all]... [options]

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

export const SCENARIOS = ["idle", "fanout", "connect", "presence"] as const;
export type Scenario = (typeof SCENARIOS)[number];

export type Config = ReturnType<typeof toConfig>;

export interface Options {
  cfg: Config;
  wanted: Scenario[];
  /** The most sockets one wanted scenario opens. */
  largest: number;
  /** --k6-fixture: write the k6 fixture to this file instead of running scenarios. */
  k6Fixture: string | undefined;
}

/** Reads process.argv. Prints the help (exit 0) or the first invalid value (exit 2) and exits. */
export function parseOptions(): Options {
  const { values: opt, positionals } = parse();

  if (opt.help) {
    console.log(HELP);
    process.exit(0);
  }

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

  const cfg = toConfig(opt);

  // A process may hold 20,000 files here: keep every worker well under that.
  const largest = Math.max(
    wanted.includes("idle") ? cfg.sockets + cfg.warmupSockets : 0,
    wanted.includes("fanout") ? cfg.rooms * cfg.members : 0,
    wanted.includes("connect") ? cfg.connects : 0,
    wanted.includes("presence") ? 2 * cfg.presenceRooms + cfg.churners : 0,
  );
  if (largest / cfg.workers > 18_000) {
    console.error(
      `${largest} sockets over ${cfg.workers} workers is over 18,000 per process: raise --workers`,
    );
    process.exit(2);
  }
  return { cfg, wanted, largest, k6Fixture: opt["k6-fixture"] };
}

function parse() {
  return parseArgs({
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
}

function toConfig(opt: ReturnType<typeof parse>["values"]) {
  return {
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
}

function int(name: string, v: string, min: number, max: number): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max) {
    console.error(`--${name}: expected an integer in [${min}, ${max}], got ${JSON.stringify(v)}`);
    process.exit(2);
  }
  return n;
}
