/** @module Locates the Postgres and Redis server binaries installed on this machine. */
import { execFileSync } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";

function onPath(name: string): string | undefined {
  try {
    return execFileSync("sh", ["-c", `command -v ${name}`], { encoding: "utf8" }).trim() || undefined;
  } catch {
    return undefined;
  }
}

/** Directory holding initdb/pg_ctl/postgres: PATH first, else the newest /usr/lib/postgresql/N/bin. */
export function postgresBinDir(): string {
  const initdb = onPath("initdb");
  if (initdb && existsSync(join(initdb, "..", "postgres"))) return join(initdb, "..");
  const base = "/usr/lib/postgresql";
  if (existsSync(base)) {
    const versions = readdirSync(base)
      .filter((v) => existsSync(join(base, v, "bin", "initdb")))
      .sort((a, b) => Number(b) - Number(a));
    if (versions[0]) return join(base, versions[0], "bin");
  }
  throw new Error(
    "PostgreSQL server binaries not found (initdb on PATH or /usr/lib/postgresql/*/bin); install Debian's 'postgresql' package or set DATABASE_URL",
  );
}

export function redisServerBin(): string {
  const bin = onPath("redis-server");
  if (!bin)
    throw new Error(
      "redis-server not found on PATH; install Debian's 'redis-server' package or set REDIS_URL",
    );
  return bin;
}
