/**
 * @module
 * The environment, described once with zod. Every variable a Nexus process reads is listed
 * here with what it expects; nothing else in the codebase reads process.env.
 */

import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import { z } from "zod";

const bool = z
  .enum(["true", "false", "1", "0"], { error: 'expected "true" or "false"' })
  .transform((v) => v === "true" || v === "1");

const int = (min: number, max: number) =>
  z
    .string()
    .regex(/^\d+$/, { error: `expected an integer from ${min} to ${max}` })
    .transform(Number)
    .pipe(
      z
        .number()
        .min(min, { error: `expected at least ${min}` })
        .max(max, { error: `expected at most ${max}` }),
    );

const urlWith = (protocols: string[]) =>
  z.string().refine(
    (v) => {
      try {
        return protocols.includes(new URL(v).protocol);
      } catch {
        return false;
      }
    },
    { error: `expected a URL starting with ${protocols.map((p) => `${p}//`).join(" or ")}` },
  );

// RFC 7518 §3.2: an HS256 key MUST be at least as long as the hash output (256 bits).
const jwtSecret = z
  .string()
  .min(32, { error: "expected at least 32 characters (RFC 7518 §3.2: HS256 keys are ≥ 256 bits)" });

const VAULT_KEY_EXPECTED = "expected base64 of exactly 32 random bytes (e.g. `openssl rand -base64 32`)";
const decodeVaultKey = (v: string): Buffer | undefined => {
  const key = Buffer.from(v, "base64");
  return key.length === 32 ? key : undefined;
};

const vaultKey = z.string().transform((v, ctx) => {
  const key = decodeVaultKey(v);
  if (key) return key;
  ctx.addIssue({ code: "custom", message: VAULT_KEY_EXPECTED });
  return z.NEVER;
});

// Keys rotated out: they only open rows sealed before the rotation. Each entry is checked like
// VAULT_KEY, and a bad one is named by its position (never echoed). Blank entries are skipped,
// so a trailing comma is harmless.
const previousVaultKeys = z.string().transform((v, ctx) => {
  const entries = v.split(",").map((s) => s.trim());
  const keys: Buffer[] = [];
  entries.forEach((entry, i) => {
    if (entry === "") return;
    const key = decodeVaultKey(entry);
    if (key) keys.push(key);
    else
      ctx.addIssue({ code: "custom", message: `entry ${i + 1} of ${entries.length}: ${VAULT_KEY_EXPECTED}` });
  });
  return keys;
});

const origins = z
  .string()
  .transform((v) =>
    v
      .split(",")
      .map((s) => s.trim())
      .filter(Boolean),
  )
  .refine((list) => list.length > 0, {
    error: "expected a comma-separated list such as https://app.example.com,//*.example.com",
  });

/** Raw schema of every variable; optional ones default in `config.ts`, per role. */
export const envSchema = z.object({
  NODE_ENV: z
    .enum(["production", "development", "test"], { error: "expected production, development or test" })
    .optional(),
  PORT: int(0, 65535).optional(),
  HOST: z.string().min(1).optional(),
  DATABASE_URL: urlWith(["postgres:", "postgresql:"]).optional(),
  POOL_SIZE: int(1, 1000).optional(),
  REDIS_URL: urlWith(["redis:", "rediss:"]).optional(),
  /** REDIS_URL names one node of a Redis Cluster: sharded pub/sub, counters spread over the masters. */
  REDIS_CLUSTER: bool.optional(),
  JWT_SECRET: jwtSecret.optional(),
  /** Bearer secret for operator endpoints (POST /api/announcements); unset = they answer 404. */
  ADMIN_TOKEN: z
    .string()
    .min(32, { error: "expected at least 32 characters (e.g. `openssl rand -base64 32`)" })
    .optional(),
  JWT_REQUIRE_EXP: bool.optional(),
  VAULT_KEY: vaultKey.optional(),
  VAULT_PREVIOUS_KEYS: previousVaultKeys.optional(),
  FRONTEND_URL: urlWith(["http:", "https:"]).optional(),
  FROM_EMAIL: z.email({ error: "expected an email address" }).optional(),
  SMTP_URL: urlWith(["smtp:", "smtps:"]).optional(),
  NODE_ID: z
    .string()
    .regex(/^[A-Za-z0-9._-]{1,64}$/, { error: "expected 1–64 characters of A–Z, a–z, 0–9, '.', '_' or '-'" })
    .optional(),
  ALLOWED_ORIGINS: origins.optional(),
  LOG_LEVEL: z
    .enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"], {
      error: "expected fatal, error, warn, info, debug, trace or silent",
    })
    .optional(),
  PRESENCE_DOWN_MS: int(500, 600_000).optional(),
  CHAT_OPEN_JOIN: bool.optional(),
  MAX_FRAME_BYTES: int(1024, 16 * 1024 * 1024).optional(),
  SOCKET_IDLE_TIMEOUT_S: int(8, 3600).optional(),
  // Shutdown drain, in Phoenix's terms (socket `drainer: [batch_size, batch_interval, shutdown]`).
  DRAIN_BATCH_SIZE: int(1, 1_000_000).optional(),
  DRAIN_BATCH_INTERVAL_MS: int(1, 60_000).optional(),
  /** 0 closes every socket at once. */
  DRAIN_TIMEOUT_MS: int(0, 600_000).optional(),
  TRUST_PROXY_HOPS: int(0, 10).optional(),
  NEXUS_DATA_DIR: z.string().min(1).optional(),
});

export type RawEnv = z.infer<typeof envSchema>;

/** hostname + random suffix: unique per boot, so a restarted pod is a new replica (PROTOCOL.md §6.3). */
export function defaultNodeId(): string {
  const host =
    hostname()
      .replace(/[^A-Za-z0-9._-]/g, "")
      .slice(0, 48) || "node";
  return `${host}-${randomBytes(4).toString("hex")}`;
}
