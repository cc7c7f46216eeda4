/**
 * @module
 * A real api process for cluster tests: `node apps/api/dist/main.js`, what `pnpm start:api`
 * runs, on the cluster's Postgres, Redis and JWT secret, so its events reach the gateways the
 * way they do in production: over Redis.
 */
import { randomBytes } from "node:crypto";
import { fileURLToPath } from "node:url";
import { type AppProcess, freePort, spawnApp, waitFor } from "@nexus/testkit";
import type { ClusterEnv } from "./cluster-harness.js";

export const API_MAIN = fileURLToPath(new URL("../../../api/dist/main.js", import.meta.url));

export interface ApiProcess {
  readonly baseUrl: string;
  readonly process: AppProcess;
  /** A JSON request as `userToken`'s user (or with the raw Authorization value given). */
  request(
    method: string,
    path: string,
    opts?: { token?: string; authorization?: string; body?: unknown },
  ): Promise<{ status: number; body: unknown }>;
}

export async function startApi(env: ClusterEnv, extra: Record<string, string> = {}): Promise<ApiProcess> {
  const port = await freePort();
  const app = spawnApp(API_MAIN, {
    PORT: String(port),
    HOST: "127.0.0.1",
    DATABASE_URL: env.databaseUrl,
    REDIS_URL: env.redisUrl,
    JWT_SECRET: env.jwtSecret,
    VAULT_KEY: randomBytes(32).toString("base64"),
    NODE_ID: `api-${port}`,
    POOL_SIZE: "4",
    LOG_LEVEL: "warn",
    NODE_ENV: "production",
    ...extra,
  });
  const baseUrl = `http://127.0.0.1:${port}`;
  let exited = false;
  void app.exited.then(() => {
    exited = true;
  });
  // waitFor retries through throws, so an exit is reported as a value and thrown after it.
  const outcome = await waitFor(
    async () =>
      exited || ((await fetch(`${baseUrl}/readyz`).catch(() => undefined))?.status === 200 && "ready"),
    { what: "the api's /readyz to answer 200", timeoutMs: 20_000 },
  ).catch(async (e: unknown) => {
    await app.kill("SIGKILL");
    throw new Error(`${String(e)}\n${app.output()}`);
  });
  if (outcome !== "ready") throw new Error(`api exited:\n${app.output()}`);
  return {
    baseUrl,
    process: app,
    async request(method, path, opts = {}) {
      const headers: Record<string, string> = {};
      if (opts.token) headers.authorization = `Bearer ${opts.token}`;
      if (opts.authorization) headers.authorization = opts.authorization;
      if (opts.body !== undefined) headers["content-type"] = "application/json";
      const res = await fetch(`${baseUrl}${path}`, {
        method,
        headers,
        ...(opts.body !== undefined ? { body: JSON.stringify(opts.body) } : {}),
      });
      const text = await res.text();
      return { status: res.status, body: text === "" ? undefined : JSON.parse(text) };
    },
  };
}
