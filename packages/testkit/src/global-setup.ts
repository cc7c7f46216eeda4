/**
 * @module
 * vitest global setup for the `int` project: real Postgres and Redis for the whole run.
 * Given DATABASE_URL / REDIS_URL it uses those servers (the database URL must be allowed to
 * CREATE DATABASE); otherwise it starts its own from the machine's binaries and stops them after.
 */
import { createDb } from "@nexus/db";
import type { TestProject } from "vitest/node";
import { prepareTemplate } from "./database.js";
import { type PostgresServer, startPostgres } from "./postgres-server.js";
import { type RedisServer, startRedis } from "./redis-server.js";

declare module "vitest" {
  export interface ProvidedContext {
    /** Superuser URL used to create per-file databases. */
    pgAdminUrl: string;
    /** A Redis shared by the run; tests isolate themselves with key/channel prefixes. */
    redisUrl: string;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const stops: Array<() => Promise<void>> = [];
  let pgAdminUrl = process.env.DATABASE_URL;
  let redisUrl = process.env.REDIS_URL;
  try {
    const [pg, redis] = await Promise.all([
      pgAdminUrl ? undefined : startPostgres(),
      redisUrl ? undefined : startRedis(),
    ]);
    if (pg) {
      stops.push(() => (pg as PostgresServer).stop());
      pgAdminUrl = pg.url;
    }
    if (redis) {
      stops.push(() => (redis as RedisServer).stop());
      redisUrl = redis.url;
    }
    await prepareTemplate(pgAdminUrl!, async (url) => {
      const handle = createDb({ kind: "postgres", url });
      try {
        await handle.migrate();
      } finally {
        await handle.close();
      }
    });
  } catch (e) {
    await Promise.allSettled(stops.map((s) => s()));
    throw e;
  }
  project.provide("pgAdminUrl", pgAdminUrl!);
  project.provide("redisUrl", redisUrl!);
  return async () => {
    await Promise.allSettled(stops.map((s) => s()));
  };
}
