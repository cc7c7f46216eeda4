/**
 * @module
 * The standalone node (`pnpm start`): one process, one port, REST and the Phoenix socket,
 * embedded defaults. Postgres is PGlite under the data dir unless DATABASE_URL is set; the bus
 * is in-process unless REDIS_URL is set. Composition root only: each piece is built from
 * config here and handed what it needs. SIGTERM drains the sockets as a gateway does (in waves,
 * DRAIN_* settings), then closes the rest.
 */
import { join } from "node:path";
import { apiServicesFromConfig, mountApi } from "@nexus/api";
import { createBus, createMemoryHub } from "@nexus/bus";
import { createLogger, loadConfig } from "@nexus/config";
import { createDb } from "@nexus/db";
import { mountGatewayNode } from "@nexus/gateway";
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
import { lockDataDir } from "./data-dir-lock.js";
import { ensureDevSecrets } from "./dev-secrets.js";

const config = loadConfig("standalone");
const log = createLogger({ level: config.logLevel, pretty: !config.production, name: "standalone" });
const fatal: Fatal = createFatal(log, "standalone");
requireNativeUwsOrExit(fatal);

const { secrets, generated, path: secretsPath } = ensureDevSecrets(config.dataDir, config);
if (generated)
  log.warn(
    { path: secretsPath },
    "generated development secrets; set JWT_SECRET and VAULT_KEY in production",
  );

let releaseLock = () => {};
if (!config.databaseUrl) {
  const lock = lockDataDir(config.dataDir);
  if (!lock.ok)
    fatal(`data directory ${config.dataDir} is in use by another Nexus node (pid ${lock.holder})`);
  releaseLock = lock.release;
}

const database = config.databaseUrl
  ? createDb({ kind: "postgres", url: config.databaseUrl, poolSize: config.poolSize })
  : createDb({ kind: "pglite", dataDir: join(config.dataDir, "pgdata") });
try {
  await database.migrate();
} catch (e) {
  releaseLock();
  fatal("could not apply database migrations", { err: e });
}

// The REST side and the socket side each get their own bus (a bus never delivers to its own
// node), so "sign out everywhere" from the api reaches this process's sockets like any other.
const hub = createMemoryHub();
const { redisUrl, redisCluster } = config;
const bus = createBus({ redisUrl, redisCluster, nodeId: config.nodeId, logger: log, hub });
const apiBus = createBus({ redisUrl, redisCluster, nodeId: `${config.nodeId}-api`, logger: log, hub });
const { mailer, rateLimiter } = apiServicesFromConfig(config, log);

const app = uWS.App();
const metrics = createMetricsRegistry({ service: "standalone", node: config.nodeId });
mountMetrics(app, metrics);
const health = mountHealth(app, {
  database: () => database.ping(),
  bus: () => bus.isReady() && apiBus.isReady(),
});
const { gateway } = mountGatewayNode(app, {
  db: database.db,
  bus,
  log,
  jwtSecret: secrets.jwtSecret,
  jwtRequireExp: config.jwtRequireExp,
  allowedOrigins: config.allowedOrigins,
  chatOpenJoin: config.chatOpenJoin,
  maxFrameBytes: config.maxFrameBytes,
  idleTimeoutSeconds: config.socketIdleTimeoutS,
  presenceDownMs: config.presenceDownMs,
  solo: !config.redisUrl,
  metrics,
});
const api = mountApi(app, {
  db: database.db,
  bus: apiBus,
  log,
  jwtSecret: secrets.jwtSecret,
  jwtRequireExp: config.jwtRequireExp,
  adminToken: config.adminToken,
  vaultKey: secrets.vaultKey,
  // Only from the environment (empty unless VAULT_PREVIOUS_KEYS is set): dev secrets never rotate.
  previousVaultKeys: config.previousVaultKeys,
  frontendUrl: config.frontendUrl,
  mailer,
  rateLimiter,
  trustProxyHops: config.trustProxyHops,
  metrics,
});
app.any("/*", (res) => {
  res.cork(() => {
    res.writeStatus("404 Not Found").writeHeader("content-type", "application/json; charset=utf-8");
    res.end(JSON.stringify({ errors: { detail: "Not Found" } }));
  });
});
await gateway.presence.ready();

const listening = await listen(app, config.host, config.port).catch((e: Error) => fatal(e.message));
log.info(
  { port: listening.port, database: database.kind, dataDir: config.dataDir, nodeId: config.nodeId },
  "nexus standalone listening",
);

onShutdown(async (signal) => {
  log.info({ signal }, "shutting down");
  health.drain();
  listening.close();
  // In waves, as a gateway drains (apps/gateway/src/main.ts): standalone nodes sharing a Redis
  // behind one balancer take over each other's clients, and should not take them all at once.
  const drained = await gateway.drain({
    batchSize: config.drainBatchSize,
    batchIntervalMs: config.drainBatchIntervalMs,
    timeoutMs: config.drainTimeoutMs,
  });
  log.info(drained, drained.cut ? "drained (timeout reached: the rest closed at once)" : "drained");
  await gateway.presence.close({ graceful: true }).catch(() => {});
  await api.close().catch(() => {});
  await rateLimiter.close().catch(() => {});
  await Promise.all([bus.close(), apiBus.close()]).catch(() => {});
  await database.close().catch((e) => log.error({ err: e }, "closing the database failed"));
  releaseLock();
});
