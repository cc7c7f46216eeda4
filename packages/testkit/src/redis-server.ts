/** @module A throwaway redis-server on a free port, restartable on the same port for fault tests. */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { redisServerBin } from "./binaries.js";
import { freePort } from "./ports.js";
import { waitFor } from "./wait.js";

export interface RedisServer {
  url: string;
  port: number;
  /** SIGKILL the server (a crash, not a shutdown). */
  kill(): Promise<void>;
  /** Start it again on the same port. */
  start(): Promise<void>;
  /** Kill, then start again: every client connection drops. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

/** PINGs Redis over a raw socket: no client library, so it also works while ioredis is reconnecting. */
export function pingRedis(port: number, host = "127.0.0.1"): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = connect(port, host);
    const done = (ok: boolean) => {
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(1_000, () => done(false));
    sock.once("error", () => done(false));
    sock.once("connect", () => sock.write("PING\r\n"));
    sock.once("data", (d) => done(d.toString().startsWith("+PONG")));
  });
}

/** One redis-server process on a fixed port and dir: killed and started again there, it keeps its config (a cluster node its nodes.conf). */
export interface RedisProcess {
  /** A no-op while its process runs: a second one on the port would only die, taking this handle with it. */
  start(): Promise<void>;
  /** SIGKILL (a crash, not a shutdown). */
  kill(): Promise<void>;
}

// A test process that dies before its afterAll must not leave servers behind.
const live = new Set<ChildProcess>();
process.once("exit", () => {
  for (const c of live) c.kill("SIGKILL");
});

export function redisProcess(port: number, dir: string, extraArgs: readonly string[] = []): RedisProcess {
  const bin = redisServerBin();
  let child: ChildProcess | undefined;
  return {
    async start() {
      if (child && child.exitCode === null && child.signalCode === null) return;
      const c = spawn(
        bin,
        [
          "--port",
          String(port),
          "--bind",
          "127.0.0.1",
          "--save",
          "",
          "--appendonly",
          "no",
          "--dir",
          dir,
          ...extraArgs,
        ],
        { stdio: "ignore" },
      );
      child = c;
      live.add(c);
      c.once("exit", () => live.delete(c));
      await waitFor(
        async () => {
          if (c.exitCode !== null) throw new Error(`redis-server exited (${c.exitCode})`);
          return pingRedis(port);
        },
        { what: `redis on :${port}`, timeoutMs: 10_000 },
      );
    },
    async kill() {
      const c = child;
      child = undefined;
      if (!c || c.exitCode !== null) return;
      const exited = new Promise((r) => c.once("exit", r));
      c.kill("SIGKILL");
      await exited;
    },
  };
}

export async function startRedis(): Promise<RedisServer> {
  const dir = mkdtempSync(join(tmpdir(), "nexus-redis-"));
  const port = await freePort();
  const proc = redisProcess(port, dir);
  await proc.start();
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    kill: proc.kill,
    start: proc.start,
    async restart() {
      await proc.kill();
      await proc.start();
    },
    async stop() {
      await proc.kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
