/**
 * @module
 * Real gateway processes for cluster tests: `node apps/gateway/dist/main.js`, the same file
 * `pnpm start:gateway` runs, sharing one Postgres database, one Redis and one JWT secret.
 * Ready means /readyz answered 200 (database and bus up), polled.
 *
 * Ports are fixed per process, as in production, not PORT=0: uWS sets SO_REUSEADDR only for
 * an explicit port, and without it the TIME_WAIT connections a SIGKILLed node leaves behind
 * block a restart on its port for a minute. A port taken between choosing and binding it is
 * retried with another.
 */
import { fileURLToPath } from "node:url";
import { type AppProcess, freePort, spawnApp, waitFor } from "@nexus/testkit";

/** What `pnpm run build` leaves behind; the root `pnpm test` builds before running tests. */
export const GATEWAY_MAIN = fileURLToPath(new URL("../../dist/main.js", import.meta.url));

export interface ClusterEnv {
  databaseUrl: string;
  redisUrl: string;
  jwtSecret: string;
  /** Extra variables for every gateway process (e.g. PRESENCE_DOWN_MS); they override the defaults above. */
  env?: Readonly<Record<string, string>>;
}

/** The parts of GET /stats these tests read (main.ts: gateway.stats() + bus.stats()). */
export interface NodeStats {
  connections: number;
  fanout: { broadcasts: number; remoteBroadcasts: number; topics: number };
  bus: {
    published: number;
    received: number;
    droppedOwnEcho: number;
    publishErrors: number;
    subscribedTopics: number;
  };
}

export interface GatewayProcess {
  readonly nodeId: string;
  readonly port: number;
  /** For the phoenix client: it appends `/websocket`. */
  readonly socketUrl: string;
  readonly process: AppProcess;
  /** The status GET /readyz answers right now (0: no answer, e.g. the process is gone). */
  readyz(): Promise<number>;
  stats(): Promise<NodeStats>;
  /** True until the process has exited, for whatever reason. */
  alive(): boolean;
}

async function get(url: string): Promise<Response | undefined> {
  try {
    return await fetch(url, { signal: AbortSignal.timeout(2_000) });
  } catch {
    return undefined;
  }
}

/** Starts one gateway and resolves once it is ready; throws (with its output) if it exits first. */
export async function startGateway(env: ClusterEnv, nodeId: string, port?: number): Promise<GatewayProcess> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(env, nodeId, port ?? (await freePort()));
    } catch (e) {
      const lostRace = port === undefined && /could not listen/.test(String(e));
      if (!lostRace || attempt === 3) throw e;
    }
  }
}

async function startOnce(env: ClusterEnv, nodeId: string, port: number): Promise<GatewayProcess> {
  const app = spawnApp(GATEWAY_MAIN, {
    PORT: String(port),
    HOST: "127.0.0.1",
    DATABASE_URL: env.databaseUrl,
    REDIS_URL: env.redisUrl,
    JWT_SECRET: env.jwtSecret,
    NODE_ID: nodeId,
    POOL_SIZE: "4",
    LOG_LEVEL: "info",
    NODE_ENV: "production",
    ...env.env,
  });
  let exitCode: number | null | undefined;
  void app.exited.then((code) => {
    exitCode = code;
  });
  // waitFor retries through throws, so an exit is reported as a value and thrown after it.
  const exited = () => exitCode !== undefined && ({ exited: exitCode } as const);
  const died = (): never => {
    throw new Error(`gateway ${nodeId} exited (${exitCode}):\n${app.output()}`);
  };
  try {
    // Its own "listening" line first: until then an answer on the port may come from whoever
    // took it between freePort() and this bind.
    await waitFor(() => exited() || app.output().includes('"msg":"nexus gateway listening"'), {
      what: `gateway ${nodeId} to listen`,
      timeoutMs: 15_000,
    });
    if (exitCode !== undefined) died();
    const base = `http://127.0.0.1:${port}`;
    const node: GatewayProcess = {
      nodeId,
      port,
      socketUrl: `ws://127.0.0.1:${port}/socket`,
      process: app,
      async readyz() {
        return (await get(`${base}/readyz`))?.status ?? 0;
      },
      async stats() {
        const res = await get(`${base}/stats`);
        if (!res?.ok) throw new Error(`gateway ${nodeId}: /stats answered ${res?.status ?? "nothing"}`);
        return (await res.json()) as NodeStats;
      },
      alive: () => exitCode === undefined,
    };
    await waitFor(async () => exited() || (await node.readyz()) === 200, {
      what: `gateway ${nodeId} /readyz 200`,
      timeoutMs: 15_000,
    });
    if (exitCode !== undefined) died();
    return node;
  } catch (e) {
    await app.kill("SIGKILL");
    throw e;
  }
}

/** Every gateway a test started, so an afterEach can kill what a failed test left behind. */
export class Cluster {
  readonly nodes: GatewayProcess[] = [];

  constructor(private readonly env: ClusterEnv) {}

  /** `port`: to restart a node on the address its clients know. */
  async start(nodeId: string, port?: number): Promise<GatewayProcess> {
    const node = await startGateway(this.env, nodeId, port);
    this.nodes.push(node);
    return node;
  }

  /** Starts several nodes at once (boot is mostly module loading, which overlaps well). */
  startAll(nodeIds: readonly string[]): Promise<GatewayProcess[]> {
    return Promise.all(nodeIds.map((id) => this.start(id)));
  }

  /** The safety net: SIGKILL whatever is still running. */
  async killAll(): Promise<void> {
    await Promise.all(this.nodes.map((n) => n.process.kill("SIGKILL")));
    this.nodes.length = 0;
  }
}
