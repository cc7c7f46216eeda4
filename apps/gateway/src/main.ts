/**
 * @module
 * `pnpm start:gateway`: one gateway node, configured by env. Real Postgres is required
 * (DATABASE_URL); with REDIS_URL it joins the cluster, without it runs as a single node.
 * SIGTERM drains: not ready, no new connections, then the sockets closed with 1012 so clients
 * reconnect elsewhere: DRAIN_BATCH_SIZE of them every DRAIN_BATCH_INTERVAL_MS, the rest at once
 * when DRAIN_TIMEOUT_MS runs out (socket/drainer.ts). All at once, every client would land on
 * the remaining nodes in the same instant. A closed socket's presences leave with it, wave by
 * wave; after the last wave presence closes gracefully (the other nodes forget this one at
 * once, not after PRESENCE_DOWN_MS), then the bus and the database.
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
import { mountGatewayNode } from "./node.js";

const config = loadConfig("gateway");
const log = createLogger({ level: config.logLevel, pretty: !config.production, name: "gateway" });
const fatal: Fatal = createFatal(log, "gateway");
requireNativeUwsOrExit(fatal);
if (!config.databaseUrl) fatal("DATABASE_URL: required for `gateway` but not set");

const database = createDb({ kind: "postgres", url: config.databaseUrl, poolSize: config.poolSize });
const bus = createBus({
  redisUrl: config.redisUrl,
  redisCluster: config.redisCluster,
  nodeId: config.nodeId,
  logger: log,
});

const app = uWS.App();
const metrics = createMetricsRegistry({ service: "gateway", node: config.nodeId });
mountMetrics(app, metrics);
const health = mountHealth(app, { database: () => database.ping(), bus: () => bus.isReady() });
const { gateway } = mountGatewayNode(app, {
  db: database.db,
  bus,
  log,
  jwtSecret: config.jwtSecret!,
  jwtRequireExp: config.jwtRequireExp,
  allowedOrigins: config.allowedOrigins,
  chatOpenJoin: config.chatOpenJoin,
  maxFrameBytes: config.maxFrameBytes,
  idleTimeoutSeconds: config.socketIdleTimeoutS,
  presenceDownMs: config.presenceDownMs,
  solo: !config.redisUrl,
  metrics,
});
app.get("/stats", (res) => {
  res
    .writeHeader("content-type", "application/json")
    .end(JSON.stringify({ ...gateway.stats(), bus: bus.stats() }));
});
// A node's first presence_state must already list users on the other nodes (bounded wait).
await gateway.presence.ready();

const listening = await listen(app, config.host, config.port).catch((e: Error) => fatal(e.message));
log.info(
  { port: listening.port, nodeId: config.nodeId, redis: Boolean(config.redisUrl) },
  "nexus gateway listening",
);

onShutdown(async (signal) => {
  log.info({ signal }, "draining");
  health.drain();
  listening.close();
  const drained = await gateway.drain({
    batchSize: config.drainBatchSize,
    batchIntervalMs: config.drainBatchIntervalMs,
    timeoutMs: config.drainTimeoutMs,
  });
  log.info(drained, drained.cut ? "drained (timeout reached: the rest closed at once)" : "drained");
  // Graceful: the other nodes drop this node's presences at once instead of after the down period.
  await gateway.presence.close({ graceful: true }).catch(() => {});
  await bus.close().catch(() => {});
  await database.close().catch(() => {});
});
