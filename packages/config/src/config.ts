/**
 * @module
 * Parses the environment once, at the edge, into a frozen Config for one role. Lower modules
 * receive the pieces they need as arguments; none of them reads process.env.
 */
import { resolve } from "node:path";
import { defaultNodeId, envSchema, type RawEnv } from "./env.js";

/** `vault`: the re-encrypt command (`pnpm vault:reencrypt`). */
export type Role = "standalone" | "gateway" | "api" | "migrate" | "vault";

export interface Config {
  role: Role;
  production: boolean;
  nodeEnv: "production" | "development" | "test";
  host: string;
  port: number;
  /** undefined = embedded PGlite under dataDir (standalone only). */
  databaseUrl: string | undefined;
  poolSize: number;
  /** undefined = in-process bus (single node). */
  redisUrl: string | undefined;
  /** REDIS_CLUSTER: redisUrl is one node of a Redis Cluster (≥ 7), whose other nodes are discovered from it. */
  redisCluster: boolean;
  /** undefined only for the standalone node, which generates a development secret. */
  jwtSecret: string | undefined;
  jwtRequireExp: boolean;
  /** ADMIN_TOKEN: operator endpoints (announcements); undefined = those endpoints do not exist. */
  adminToken: string | undefined;
  vaultKey: Buffer | undefined;
  /** VAULT_PREVIOUS_KEYS: keys rotated out, which still open old rows but never seal. */
  previousVaultKeys: readonly Buffer[];
  frontendUrl: string;
  fromEmail: string;
  smtpUrl: string | undefined;
  nodeId: string;
  /** null = origin check off (every origin accepted). */
  allowedOrigins: readonly string[] | null;
  logLevel: string;
  presenceDownMs: number;
  /** Seed 004's open behaviour: any authenticated user may join any chat:{uuid}. Off by default. */
  chatOpenJoin: boolean;
  /** Largest inbound WebSocket frame (seed 004: 64 KB); larger closes that socket with 1009. */
  maxFrameBytes: number;
  /** Seconds without inbound data before a socket is closed (Phoenix: 60; clients heartbeat every 30). */
  socketIdleTimeoutS: number;
  /** Sockets a draining gateway or standalone node closes per wave (Phoenix batch_size). */
  drainBatchSize: number;
  /** Pause between drain waves (Phoenix batch_interval). */
  drainBatchIntervalMs: number;
  /** Longest drain; whatever is still open then is closed at once (Phoenix shutdown). 0 = no waves. */
  drainTimeoutMs: number;
  /** Proxies in front that append X-Forwarded-For; the client IP (rate limits) is read past them. */
  trustProxyHops: number;
  dataDir: string;
}

export class ConfigError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    this.name = "ConfigError";
  }
}

type Env = Record<string, string | undefined>;

/**
 * What each role cannot start without (DESIGN.md §4.6). Only a standalone node outside
 * production may run without secrets: it generates development ones under its data dir.
 */
function required(role: Role, production: boolean): ReadonlyArray<keyof RawEnv> {
  switch (role) {
    case "standalone":
      return production ? ["JWT_SECRET", "VAULT_KEY"] : [];
    case "gateway":
      return ["JWT_SECRET"];
    case "api":
      return ["JWT_SECRET", "VAULT_KEY"];
    case "migrate":
      return ["DATABASE_URL"];
    // Previous keys stay optional: without them the command opens nothing old, reports every
    // row still on an old key and exits non-zero, which is also how to check a rotation is done.
    case "vault":
      return ["DATABASE_URL", "VAULT_KEY"];
  }
}

export type ConfigResult = { ok: true; config: Readonly<Config> } | { ok: false; error: ConfigError };

/** Pure: the same env always gives the same answer (except the random default NODE_ID). */
export function parseConfig(role: Role, env: Env): ConfigResult {
  // Empty strings mean "unset", as in most shells' `VAR= cmd`.
  const present = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ""));
  const parsed = envSchema.safeParse(present);
  const problems: string[] = [];
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const name = String(issue.path[0] ?? "environment");
      const got = present[name];
      const shown =
        /SECRET|KEY|PASSWORD/.test(name) || got === undefined ? "" : ` (got ${JSON.stringify(got)})`;
      problems.push(`${name}: ${issue.message}${shown}`);
    }
  }
  const raw: RawEnv = parsed.success ? parsed.data : {};
  const production = (raw.NODE_ENV ?? present.NODE_ENV) === "production";
  for (const name of required(role, production)) {
    // `present`, not `raw`: when any variable is invalid `raw` is empty, and a valid secret set
    // next to it must not be reported missing. A present but invalid one is reported above.
    if (present[name] === undefined) {
      problems.push(
        `${name}: required for \`${role}\`${role === "standalone" ? " in production" : ""} but not set`,
      );
    }
  }
  if (raw.REDIS_CLUSTER && raw.REDIS_URL === undefined) {
    problems.push("REDIS_CLUSTER: true needs REDIS_URL (one node of the cluster) but it is not set");
  } else if (raw.REDIS_CLUSTER && !/^\/?0?$/.test(new URL(raw.REDIS_URL!).pathname)) {
    // Only the path is shown: the URL may carry a password.
    problems.push(
      `REDIS_URL: expected no database with REDIS_CLUSTER=true (a Redis Cluster has only 0) (got path "${new URL(raw.REDIS_URL!).pathname}")`,
    );
  }
  if (problems.length > 0) return { ok: false, error: new ConfigError(problems) };

  const nodeEnv = raw.NODE_ENV ?? "development";
  const config: Config = {
    role,
    nodeEnv,
    production: nodeEnv === "production",
    host: raw.HOST ?? "0.0.0.0",
    port: raw.PORT ?? 4000,
    databaseUrl: raw.DATABASE_URL,
    poolSize: raw.POOL_SIZE ?? 10,
    redisUrl: raw.REDIS_URL,
    redisCluster: raw.REDIS_CLUSTER ?? false,
    jwtSecret: raw.JWT_SECRET,
    jwtRequireExp: raw.JWT_REQUIRE_EXP ?? false,
    adminToken: raw.ADMIN_TOKEN,
    vaultKey: raw.VAULT_KEY,
    previousVaultKeys: Object.freeze(raw.VAULT_PREVIOUS_KEYS ?? []),
    frontendUrl: raw.FRONTEND_URL ?? "http://localhost:4000",
    fromEmail: raw.FROM_EMAIL ?? "nexus@localhost",
    smtpUrl: raw.SMTP_URL,
    nodeId: raw.NODE_ID ?? defaultNodeId(),
    allowedOrigins: raw.ALLOWED_ORIGINS ?? null,
    logLevel: raw.LOG_LEVEL ?? "info",
    presenceDownMs: raw.PRESENCE_DOWN_MS ?? 5_000,
    chatOpenJoin: raw.CHAT_OPEN_JOIN ?? false,
    maxFrameBytes: raw.MAX_FRAME_BYTES ?? 64 * 1024,
    socketIdleTimeoutS: raw.SOCKET_IDLE_TIMEOUT_S ?? 60,
    // Phoenix's batch size and interval. The timeout is shorter than Phoenix's 30 s: with the
    // 5 s preStop and a few seconds to close presence, the bus and the pool, it fits in
    // Kubernetes' default 30 s termination grace period (infra/k8s.test.ts checks that sum).
    drainBatchSize: raw.DRAIN_BATCH_SIZE ?? 10_000,
    drainBatchIntervalMs: raw.DRAIN_BATCH_INTERVAL_MS ?? 2_000,
    drainTimeoutMs: raw.DRAIN_TIMEOUT_MS ?? 20_000,
    trustProxyHops: raw.TRUST_PROXY_HOPS ?? 0,
    dataDir: resolve(raw.NEXUS_DATA_DIR ?? ".nexus"),
  };
  return { ok: true, config: Object.freeze(config) };
}

/**
 * The process edge: reads process.env (the only place that does), and on a bad value prints
 * which variable is wrong and what is expected, then exits 1.
 */
export function loadConfig(role: Role): Readonly<Config> {
  const result = parseConfig(role, process.env);
  if (!result.ok) {
    process.stderr.write(`nexus ${role}: ${result.error.message}\n`);
    process.exit(1);
  }
  return result.config;
}
