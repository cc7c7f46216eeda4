/**
 * @module
 * A throwaway PostgreSQL cluster in a temp dir on a free port. initdb and postgres refuse to
 * run as root, so as root they are spawned with the `postgres` user's uid/gid (not through
 * runuser, which would swallow the shutdown signal), in directories owned by that user.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { chmodSync, chownSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import postgres from "postgres";
import { postgresBinDir } from "./binaries.js";
import { freePort } from "./ports.js";
import { waitFor } from "./wait.js";

export interface PostgresServer {
  /** Superuser URL of the `postgres` database. */
  url: string;
  port: number;
  stop(): Promise<void>;
}

function pgIds(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const uid = Number(execFileSync("id", ["-u", "postgres"], { encoding: "utf8" }).trim());
  const gid = Number(execFileSync("id", ["-g", "postgres"], { encoding: "utf8" }).trim());
  return { uid, gid };
}

export async function startPostgres(): Promise<PostgresServer> {
  const bin = postgresBinDir();
  const root = mkdtempSync(join(tmpdir(), "nexus-pg-"));
  const data = join(root, "data");
  const ids = pgIds();
  if (ids) {
    chmodSync(root, 0o755);
    chownSync(root, ids.uid, ids.gid);
  }
  const as = ids ? { uid: ids.uid, gid: ids.gid, env: { ...process.env, HOME: root } } : {};
  execFileSync(
    join(bin, "initdb"),
    ["-D", data, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync", "--no-instructions"],
    { stdio: "pipe", ...as },
  );

  const port = await freePort();
  const args = [
    "-D",
    data,
    "-p",
    String(port),
    "-k",
    root,
    "-c",
    "listen_addresses=127.0.0.1",
    // Durability is not what these tests check; speed is welcome on a 2-core box.
    "-c",
    "fsync=off",
    "-c",
    "synchronous_commit=off",
    "-c",
    "full_page_writes=off",
    "-c",
    "max_connections=400",
  ];
  const child: ChildProcess = spawn(join(bin, "postgres"), args, {
    stdio: ["ignore", "ignore", "pipe"],
    ...as,
  });
  let stderr = "";
  child.stderr?.on("data", (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-4000);
  });
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;

  await waitFor(
    async () => {
      if (child.exitCode !== null) throw new Error(`postgres exited (${child.exitCode}): ${stderr}`);
      const sql = postgres(url, { max: 1, connect_timeout: 2, onnotice: () => {} });
      try {
        await sql`select 1`;
        return true;
      } finally {
        await sql.end({ timeout: 1 });
      }
    },
    { what: `postgres on :${port}`, timeoutMs: 30_000, intervalMs: 50 },
  );

  return {
    url,
    port,
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once("exit", r));
        child.kill("SIGINT"); // fast shutdown: roll back and disconnect clients
        await exited;
      }
      rmSync(root, { recursive: true, force: true });
    },
  };
}
