/**
 * @module
 * The api's outside world, picked from config: SMTP or the log for email, Redis or memory for
 * rate-limit counters. Shared by the api process and the standalone node.
 */
import type { Logger } from "@nexus/config";
import { Redis } from "ioredis";
import { createLogMailer, createSmtpMailer, type Mailer } from "./mailer.js";
import { createMemoryRateLimiter, createRedisRateLimiter, type RateLimiter } from "./rate-limit.js";

export function apiServicesFromConfig(
  cfg: { redisUrl: string | undefined; smtpUrl: string | undefined; fromEmail: string },
  log: Logger,
): { mailer: Mailer; rateLimiter: RateLimiter } {
  const rateLimiter = cfg.redisUrl
    ? createRedisRateLimiter({
        // Counters must not queue while Redis is away: the limiter lets requests through instead.
        redis: new Redis(cfg.redisUrl, {
          lazyConnect: false,
          maxRetriesPerRequest: 1,
          enableOfflineQueue: false,
        }),
        log,
        closeClient: true,
      })
    : createMemoryRateLimiter();
  const mailer = cfg.smtpUrl
    ? createSmtpMailer({ url: cfg.smtpUrl, from: cfg.fromEmail })
    : createLogMailer(log, cfg.fromEmail);
  if (!cfg.smtpUrl) log.warn("SMTP_URL unset: emails, one-time links included, are written to this log");
  return { mailer, rateLimiter };
}
