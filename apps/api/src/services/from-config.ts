/**
 * @module
 * The api's outside world, picked from config: SMTP or the log for email, Redis or memory for
 * rate-limit counters (one Redis or a Redis Cluster). Shared by the api process and the standalone node.
 */
import { clusterSeed, connectMastersEagerly } from "@nexus/bus";
import type { Logger } from "@nexus/config";
import { Cluster, Redis } from "ioredis";
import { createLogMailer, createSmtpMailer, type Mailer } from "./mailer.js";
import { createMemoryRateLimiter, createRedisRateLimiter, type RateLimiter } from "./rate-limit.js";

/**
 * The rate limiter's Redis client. Counters must not queue while Redis is away: the limiter lets
 * requests through instead, at once. On a Cluster each counter is one key, so each hit (one
 * EVAL) lands on the master owning that key's slot.
 */
export function rateLimitRedis(url: string, cluster: boolean): Redis | Cluster {
  if (!cluster)
    return new Redis(url, { lazyConnect: false, maxRetriesPerRequest: 1, enableOfflineQueue: false });
  const { seed, redisOptions } = clusterSeed(url);
  const redis = new Cluster([seed], {
    enableOfflineQueue: false,
    // Fail fast rather than retry in the background while a master is away.
    retryDelayOnFailover: 0,
    retryDelayOnClusterDown: 0,
    redisOptions: { ...redisOptions, maxRetriesPerRequest: 1 },
  });
  connectMastersEagerly(redis);
  return redis;
}

export function apiServicesFromConfig(
  cfg: {
    redisUrl: string | undefined;
    redisCluster: boolean;
    smtpUrl: string | undefined;
    fromEmail: string;
  },
  log: Logger,
): { mailer: Mailer; rateLimiter: RateLimiter } {
  const rateLimiter = cfg.redisUrl
    ? createRedisRateLimiter({
        redis: rateLimitRedis(cfg.redisUrl, cfg.redisCluster),
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
