/**
 * @module
 * A child Node process with its own node flags (testkit's spawnApp takes none, and flags such as
 * --cpu-prof are refused in NODE_OPTIONS). Output is kept for error messages; the child is
 * SIGKILLed if the runner exits without stopping it.
 */
import { type ChildProcess, spawn } from "node:child_process";

export interface NodeProcess {
  child: ChildProcess;
  pid: number;
  output(): string;
  exited: Promise<number | null>;
  kill(signal?: NodeJS.Signals): Promise<number | null>;
}

const live = new Set<ChildProcess>();
process.once("exit", () => {
  for (const c of live) c.kill("SIGKILL");
});

export function spawnNode(
  script: string,
  nodeArgs: string[],
  env: Record<string, string | undefined>,
): NodeProcess {
  const child = spawn(process.execPath, [...nodeArgs, script], {
    env: { PATH: process.env.PATH, NODE_ENV: "production", ...env },
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
