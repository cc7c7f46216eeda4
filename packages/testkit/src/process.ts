/**
 * @module
 * Real app processes for integration tests: spawned with their own env, output kept for
 * failure messages, killed (SIGTERM or SIGKILL) on demand and always on test-process exit.
 */
import { type ChildProcess, spawn } from "node:child_process";

export interface AppProcess {
  child: ChildProcess;
  pid: number;
  /** Everything the process wrote so far (stdout and stderr interleaved, last 64 KB). */
  output(): string;
  /** Resolves with the exit code once the process has exited. */
  exited: Promise<number | null>;
  /** SIGTERM (graceful) by default; SIGKILL for crash tests. Resolves when it has exited. */
  kill(signal?: NodeJS.Signals): Promise<number | null>;
}

const live = new Set<ChildProcess>();
process.once("exit", () => {
  for (const c of live) c.kill("SIGKILL");
});

export function spawnApp(
  script: string,
  env: Record<string, string | undefined>,
  args: string[] = [],
  /** Flags for node itself (e.g. --cpu-prof, which node refuses in NODE_OPTIONS). */
  { nodeArgs = [] }: { nodeArgs?: string[] } = {},
): AppProcess {
  const child = spawn(process.execPath, [...nodeArgs, script, ...args], {
    env: { PATH: process.env.PATH, NODE_ENV: "production", LOG_LEVEL: "info", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  live.add(child);
  let out = "";
  const keep = (d: Buffer) => {
    out = (out + d.toString()).slice(-65_536);
  };
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);
  const exited = new Promise<number | null>((resolve) => {
    child.once("exit", (code) => {
      live.delete(child);
      resolve(code);
    });
  });
  return {
    child,
    pid: child.pid!,
    output: () => out,
    exited,
    async kill(signal: NodeJS.Signals = "SIGTERM") {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}
