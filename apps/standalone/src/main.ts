/**
 * @module
 * The standalone node (`pnpm start`): one process, one port, embedded defaults. Postgres is
 * PGlite under the data dir unless DATABASE_URL is set. Composition root only: each piece is
 * built from config here and handed what it needs.
 */
import { join } from "node:path";
import { createMemoryBus, createRedisBus } from "@nexus/bus";
import { createLogger, loadConfig } from "@nexus/config";
import { createDb } from "@nexus/db";
import { mountGatewayNode } from "@nexus/gateway";
import { listen, mountHealth, requireNativeUws, uWS } from "@nexus/http";
import { lockDataDir } from "./data-dir-lock.js";
import { ensureDevSecrets } from "./dev-secrets.js";

const config = loadConfig("standalone");
const log = createLogger({ level: config.logLevel, pretty: !config.production, name: "standalone" });

function fatal(msg: string, extra: Record<string, unknown> = {}): never {
  log.fatal(extra, msg);
  // pino writes asynchronously only with transports; stderr makes sure the reason is seen.
  process.stderr.write(`nexus standalone: ${msg}\n`);
  process.exit(1);
}

try {
  requireNativeUws();
} catch (e) {
  fatal((e as Error).message);
}

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

const bus = config.redisUrl
  ? createRedisBus({ url: config.redisUrl, nodeId: config.nodeId, logger: log })
  : createMemoryBus({ nodeId: config.nodeId });

const app = uWS.App();
const health = mountHealth(app, { database: () => database.ping(), bus: () => bus.isReady() });
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
});
// A node's first presence_state must already list users on the other nodes (bounded wait).
await gateway.presence.ready();
app.any("/*", (res) => {
  res.cork(() => {
    res.writeStatus("404 Not Found").writeHeader("content-type", "application/json; charset=utf-8");
    res.end(JSON.stringify({ errors: { detail: "Not Found" } }));
  });
});

const listening = await listen(app, config.host, config.port).catch((e: Error) => fatal(e.message));
log.info(
  { port: listening.port, database: database.kind, dataDir: config.dataDir, nodeId: config.nodeId },
  "nexus standalone listening",
);

let stopping = false;
async function shutdown(signal: string) {
  if (stopping) return;
  stopping = true;
  log.info({ signal }, "shutting down");
  health.drain();
  listening.close();
  gateway.drain();
  // Graceful: the other nodes drop this node's presences at once instead of after the down period.
  await gateway.presence.close({ graceful: true }).catch(() => {});
  await bus.close().catch(() => {});
  await database.close().catch((e) => log.error({ err: e }, "closing the database failed"));
  releaseLock();
  process.exit(0);
}
process.on("SIGTERM", () => void shutdown("SIGTERM"));
process.on("SIGINT", () => void shutdown("SIGINT"));
