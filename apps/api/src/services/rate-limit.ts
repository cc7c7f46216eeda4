/**
 * @module
 * Rate limiting of the auth endpoints (DESIGN §7): fixed windows that open on the first hit.
 * In Redis when the node has one (every api node then shares the counts), in memory otherwise.
 * A Redis failure lets the request through and is logged: an outage of the limiter must not
 * become an outage of login.
 */
import type { Logger } from "@nexus/config";
import type { Cluster, Redis } from "ioredis";

export interface RateRule {
  limit: number;
  windowMs: number;
}

/** Every rule the api applies, by name; defaults below. */
export interface RateLimits {
  /** Any request to /auth/*, per client IP. */
  auth_ip: RateRule;
  /** Account creation, per client IP. */
  register_ip: RateRule;
  /** Password attempts against one account, whatever the IP (credential stuffing spread over addresses). */
  login_email: RateRule;
  /** Emails the api sends to one address or user (confirmation, email change, reset): no mail bombing. */
  email_send: RateRule;
}

export type RateRuleName = keyof RateLimits;

export const DEFAULT_RATE_LIMITS: Readonly<RateLimits> = Object.freeze({
  auth_ip: { limit: 60, windowMs: 60_000 },
  register_ip: { limit: 20, windowMs: 60 * 60_000 },
  login_email: { limit: 10, windowMs: 15 * 60_000 },
  email_send: { limit: 5, windowMs: 60 * 60_000 },
});

export type RateDecision = { ok: true } | { ok: false; retryAfterMs: number };

export interface RateLimiter {
  /** Counts one hit of `key` under `rule`. */
  hit(key: string, rule: RateRule): Promise<RateDecision>;
  close(): Promise<void>;
}

export function createMemoryRateLimiter({
  now = Date.now,
  maxKeys = 100_000,
}: {
  now?: () => number;
  maxKeys?: number;
} = {}): RateLimiter {
  const windows = new Map<string, { count: number; resetAt: number }>();
  return {
    async hit(key, rule) {
      const t = now();
      let w = windows.get(key);
      if (w === undefined || w.resetAt <= t) {
        if (windows.size >= maxKeys) {
          // Bounded memory under a flood of distinct keys: drop expired windows, then the oldest.
          for (const [k, v] of windows) if (v.resetAt <= t) windows.delete(k);
          if (windows.size >= maxKeys) windows.delete(windows.keys().next().value!);
        }
        w = { count: 0, resetAt: t + rule.windowMs };
        windows.set(key, w);
      }
      w.count++;
      return w.count <= rule.limit ? { ok: true } : { ok: false, retryAfterMs: w.resetAt - t };
    },
    async close() {
      windows.clear();
    },
  };
}

// KEYS[1] counter; ARGV[1] window ms. Returns {count, pttl}. The window opens with the first hit.
// One key per call, so it runs unchanged on a Redis Cluster (on the master owning that key).
const HIT_SCRIPT = `
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]); ttl = tonumber(ARGV[1]) end
return {n, ttl}`;

export function createRedisRateLimiter({
  redis,
  prefix = "nexus:rl:",
  log,
  closeClient = false,
}: {
  redis: Redis | Cluster;
  prefix?: string;
  log: Pick<Logger, "warn">;
  /** Quit the client on close (when the limiter owns it). */
  closeClient?: boolean;
}): RateLimiter {
  let lastWarn = 0;
  return {
    async hit(key, rule) {
      try {
        const [count, ttl] = (await redis.eval(HIT_SCRIPT, 1, `${prefix}${key}`, String(rule.windowMs))) as [
          number,
          number,
        ];
        return count <= rule.limit ? { ok: true } : { ok: false, retryAfterMs: ttl };
      } catch (err) {
        if (Date.now() - lastWarn > 10_000) {
          lastWarn = Date.now();
          log.warn({ err }, "rate limiter: Redis unavailable, letting requests through");
        }
        return { ok: true };
      }
    },
    async close() {
      if (closeClient) await redis.quit().catch(() => redis.disconnect());
    },
  };
}
