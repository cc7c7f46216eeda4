/**
 * @module
 * The gateways under test: fresh processes on loopback for every scenario and cluster size (so
 * caches start cold each time), their /stats and CPU time, and which build they run.
 */
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, statSync } from "node:fs";
import { parsePrometheusText } from "@nexus/http/prometheus-text";
import { type AppProcess, freePort, spawnApp, waitForHttp } from "@nexus/testkit";
import { onCleanup } from "./cleanup.js";
import { type GcHandle, openInspectorGc } from "./inspector-gc.js";
import { cpuSeconds, cpuTimes } from "./proc.js";

export interface Gateway {
  nodeId: string;
  port: number;
  pid: number;
  app: AppProcess;
  gc?: GcHandle;
}

/** How every gateway of a run is started. */
export interface GatewaySpawn {
  /** The bundle to run (apps/gateway/dist/main.js unless GATEWAY_SCRIPT). */
  script: string;
  jwtSecret: string;
  /** --gateway-env */
  extraEnv: Record<string, string>;
  /** With --cpu-prof, where the profiles go; else undefined. */
  cpuProfDir: string | undefined;
}

export async function startGateways(
  spawn: GatewaySpawn,
  count: number,
  env: { databaseUrl: string; redisUrl: string | undefined },
  { inspect = false }: { inspect?: boolean } = {},
): Promise<Gateway[]> {
  const profDir = spawn.cpuProfDir;
  if (profDir) mkdirSync(profDir, { recursive: true });
  const gws: Gateway[] = [];
  for (let k = 0; k < count; k++) {
    const port = await freePort();
    // --inspect-port only picks the port; the inspector opens on SIGUSR1 (see inspector-gc.ts).
    const inspectPort = inspect ? await freePort() : undefined;
    const nodeArgs = [
      ...(inspectPort ? [`--inspect-port=127.0.0.1:${inspectPort}`] : []),
      ...(profDir ? ["--cpu-prof", `--cpu-prof-dir=${profDir}`] : []),
    ];
    const nodeId = `bench-${k + 1}`;
    const app = spawnApp(
      spawn.script,
      {
        PORT: String(port),
        HOST: "127.0.0.1",
        DATABASE_URL: env.databaseUrl,
        REDIS_URL: env.redisUrl,
        JWT_SECRET: spawn.jwtSecret,
        NODE_ID: nodeId,
        LOG_LEVEL: "warn",
        // As the image runs them (infra/docker/service.Dockerfile); --gateway-env overrides it.
        MALLOC_ARENA_MAX: "2",
        ...spawn.extraEnv,
      },
      [],
      { nodeArgs },
    );
    const gw: Gateway = { nodeId, port, pid: app.pid, app };
    gws.push(gw);
    onCleanup(() => stopGateway(gw));
    try {
      await waitForHttp(`http://127.0.0.1:${port}/readyz`, { timeoutMs: 30_000 });
    } catch (e) {
      throw new Error(`gateway ${nodeId} did not become ready: ${(e as Error).message}\n${app.output()}`);
    }
    if (inspectPort) gw.gc = await openInspectorGc(gw.pid, inspectPort);
  }
  return gws;
}

async function stopGateway(gw: Gateway): Promise<void> {
  gw.gc?.close();
  // SIGTERM drains and exits normally, which is also when --cpu-prof writes its profile.
  const killer = setTimeout(() => void gw.app.kill("SIGKILL"), 15_000);
  await gw.app.kill("SIGTERM");
  clearTimeout(killer);
}

export async function stopGateways(gws: Gateway[]): Promise<void> {
  await Promise.all(gws.map(stopGateway));
}

export async function gatewayStats(gws: Gateway[]): Promise<unknown[]> {
  return Promise.all(
    gws.map(async (g) => {
      try {
        const res = await fetch(`http://127.0.0.1:${g.port}/stats`, { signal: AbortSignal.timeout(5_000) });
        return await res.json();
      } catch (e) {
        return { error: (e as Error).message };
      }
    }),
  );
}

export const gatewayCpu = (gws: Gateway[]) => gws.reduce((s, g) => s + cpuSeconds(g.pid), 0);
/** Kernel share of the gateways' CPU: on loopback the TCP path of every send is charged to the sender. */
export const gatewaySys = (gws: Gateway[]) => gws.reduce((s, g) => s + cpuTimes(g.pid).system, 0);

/** Which gateway was measured: the numbers belong to one exact build. */
export function gatewayBuild(script: string, repoRoot: string) {
  const git = (...args: string[]) => {
    try {
      return execFileSync("git", args, { cwd: repoRoot, encoding: "utf8" }).trim();
    } catch {
      return null;
    }
  };
  return {
    script,
    sha256: createHash("sha256").update(readFileSync(script)).digest("hex"),
    builtAt: statSync(script).mtime.toISOString(),
    commit: git("rev-parse", "HEAD"),
    uncommittedChanges:
      git("status", "--porcelain", "--", "apps", "packages")?.split("\n").filter(Boolean).length ?? null,
  };
}

/**
 * The gateways' own `new_msg` handler timings (Postgres write included), summed over the
 * gateways: cumulative bucket counts by upper bound, from /metrics. Subtract two readings for
 * one step's; together with the end-to-end latency it tells the gateway's time from the rest.
 */
export async function newMsgHandleBuckets(gws: Gateway[]): Promise<Map<number, number>> {
  const out = new Map<number, number>();
  await Promise.all(
    gws.map(async (g) => {
      const res = await fetch(`http://127.0.0.1:${g.port}/metrics`, { signal: AbortSignal.timeout(5_000) });
      for (const s of parsePrometheusText(await res.text())) {
        if (s.name !== "nexus_channel_handle_in_duration_seconds_bucket") continue;
        if (s.labels.channel !== "chat" || s.labels.event !== "new_msg" || s.labels.status !== "ok") continue;
        const le = s.labels.le === "+Inf" ? Number.POSITIVE_INFINITY : Number(s.labels.le);
        out.set(le, (out.get(le) ?? 0) + s.value);
      }
    }),
  );
  return out;
}
