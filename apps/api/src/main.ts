/**
 * @module
 * `pnpm start:api`: one REST node, configured by env. Needs JWT_SECRET and VAULT_KEY (config
 * refuses to start without them, naming them) and real Postgres (DATABASE_URL). With REDIS_URL
 * it publishes to the cluster bus and shares rate-limit counters; without it, both stay in
 * process. SIGTERM drains: not ready, stop listening, finish the outbox pass, close.
 */
import { createBus } from "@nexus/bus";
import { createLogger, loadConfig } from "@nexus/config";
import { createDb } from "@nexus/db";
import {
  createFatal,
  createMetricsRegistry,
  type Fatal,
  listen,
  mountHealth,
  mountMetrics,
  onShutdown,
  requireNativeUwsOrExit,
  uWS,
} from "@nexus/http";
import { mountApi } from "./api.js";
import { apiServicesFromConfig } from "./services/from-config.js";

const config = loadConfig("api");
const log = createLogger({ level: config.logLevel, pretty: !config.production, name: "api" });
const fatal: Fatal = createFatal(log, "api");
requireNativeUwsOrExit(fatal);
if (!config.databaseUrl) fatal("DATABASE_URL: required for `api` but not set");

const database = createDb({ kind: "postgres", url: config.databaseUrl, poolSize: config.poolSize });
// Two services booting together is fine: migrations take an advisory lock.
await database.migrate().catch((e: Error) => fatal(`could not migrate the database: ${e.message}`));

const bus = createBus({
  redisUrl: config.redisUrl,
  redisCluster: config.redisCluster,
  nodeId: config.nodeId,
  logger: log,
});
const { mailer, rateLimiter } = apiServicesFromConfig(config, log);

const app = uWS.App();
// Process metrics (CPU, memory, event-loop delay, GC) and request timings; see README, Monitoring.
const metrics = createMetricsRegistry({ service: "api", node: config.nodeId });
mountMetrics(app, metrics);
const health = mountHealth(app, { database: () => database.ping(), bus: () => bus.isReady() });
const api = mountApi(app, {
  db: database.db,
  bus,
  log,
  jwtSecret: config.jwtSecret!,
  jwtRequireExp: config.jwtRequireExp,
  adminToken: config.adminToken,
  vaultKey: config.vaultKey!,
  previousVaultKeys: config.previousVaultKeys,
  frontendUrl: config.frontendUrl,
  mailer,
  rateLimiter,
  trustProxyHops: config.trustProxyHops,
  metrics,
});

const listening = await listen(app, config.host, config.port).catch((e: Error) => fatal(e.message));
log.info(
  { port: listening.port, nodeId: config.nodeId, redis: Boolean(config.redisUrl), smtp: mailer.kind },
  "nexus api listening",
);

onShutdown(async (signal) => {
  log.info({ signal }, "draining");
  health.drain();
  listening.close();
  await api.close().catch(() => {});
  await rateLimiter.close().catch(() => {});
  await bus.close().catch(() => {});
  await database.close().catch(() => {});
});
