/**
 * @module
 * An in-process gateway node exactly as production builds it (real JWT auth, real Postgres,
 * chat channel), on a free port with an in-memory bus. Cluster behaviour is tested with real
 * processes elsewhere; this is for channel behaviour.
 */
import { createMemoryBus, createMemoryHub, type MemoryHub } from "@nexus/bus";
import { createDb, type DbHandle } from "@nexus/db";
import { listen, uWS } from "@nexus/http";
import { type GatewayNode, mountGatewayNode } from "../node.js";

export const TEST_JWT_SECRET = "test-jwt-secret-0123456789abcdef-0123456789";
const quiet = { info() {}, debug() {}, warn() {}, error() {} };

export interface NodeServer extends GatewayNode {
  url: string;
  port: number;
  database: DbHandle;
  close(): Promise<void>;
}

export async function startNodeServer(opts: {
  databaseUrl: string;
  chatOpenJoin?: boolean;
  hub?: MemoryHub;
  nodeId?: string;
}): Promise<NodeServer> {
  const database = createDb({ kind: "postgres", url: opts.databaseUrl, poolSize: 4 });
  const bus = createMemoryBus({ hub: opts.hub ?? createMemoryHub(), nodeId: opts.nodeId ?? "node-a" });
  const app = uWS.App();
  const node = mountGatewayNode(app, {
    db: database.db,
    bus,
    log: quiet,
    jwtSecret: TEST_JWT_SECRET,
    jwtRequireExp: false,
    allowedOrigins: null,
    chatOpenJoin: opts.chatOpenJoin ?? false,
    maxFrameBytes: 64 * 1024,
    idleTimeoutSeconds: 60,
    presenceDownMs: 5_000,
    solo: opts.hub === undefined,
  });
  const listening = await listen(app, "127.0.0.1", 0);
  return {
    ...node,
    database,
    port: listening.port,
    url: `ws://127.0.0.1:${listening.port}/socket`,
    async close() {
      await node.gateway.drain();
      await node.gateway.presence.close({ graceful: true });
      listening.close();
      await bus.close();
      await database.close();
    },
  };
}
