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

export async function startRedis(): Promise<RedisServer> {
  const bin = redisServerBin();
  const dir = mkdtempSync(join(tmpdir(), "nexus-redis-"));
  const port = await freePort();
  let child: ChildProcess | undefined;

  const start = async () => {
    const c = spawn(
      bin,
      ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir],
      { stdio: "ignore" },
    );
    child = c;
    await waitFor(
      async () => {
        if (c.exitCode !== null) throw new Error(`redis-server exited (${c.exitCode})`);
        return pingRedis(port);
      },
      { what: `redis on :${port}`, timeoutMs: 10_000 },
    );
  };
  const kill = async () => {
    const c = child;
    child = undefined;
    if (!c || c.exitCode !== null) return;
    const exited = new Promise((r) => c.once("exit", r));
    c.kill("SIGKILL");
    await exited;
  };

  await start();
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    kill,
    start,
    async restart() {
      await kill();
      await start();
    },
    async stop() {
      await kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
