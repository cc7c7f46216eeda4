/**
 * @module
 * `mountApi(app, options)`: the REST node's routes on a uWS app, built from already-parsed
 * settings. Used by the api process (main.ts) and by the standalone node next to the gateway.
 * It owns the outbox worker and its bus subscription; the database, bus, mailer and rate
 * limiter belong to the caller.
 *
 * A bus never delivers a message to the node that published it. A gateway in the same process
 * (the standalone node) must therefore be given its own bus on the same hub (memory: two buses
 * from one createMemoryHub(); Redis: two createRedisBus with different node ids), or it will
 * not hear the api's sign-outs and membership changes.
 */
import { hkdfSync } from "node:crypto";
import { createAccessTokens, createValidAfterCache, type ValidAfterCache } from "@nexus/auth";
import type { Bus, Unsubscribe } from "@nexus/bus";
import type { Logger } from "@nexus/config";
import { createPageTokens, type Db, userValidAfter } from "@nexus/db";
import type { Registry, TemplatedApp } from "@nexus/http";
import type { ApiContext } from "./context.js";
import { registerHttpMetrics } from "./http/metrics.js";
import type { Route } from "./http/route.js";
import { mountRoutes } from "./http/router.js";
import { secretMatcher } from "./http/secret-match.js";
import { renderOpenApi } from "./openapi.js";
import { accountRoutes } from "./routes/account.js";
import { announcementRoutes } from "./routes/announcements.js";
import { authRoutes } from "./routes/auth.js";
import { conversationRoutes } from "./routes/conversations.js";
import { messageRoutes } from "./routes/messages.js";
import { profileRoutes } from "./routes/profile.js";
import { userRoutes } from "./routes/users.js";
import { createEmails } from "./services/emails.js";
import { createApiEvents, USERS_CONTROL_TOPIC } from "./services/events.js";
import type { Mailer } from "./services/mailer.js";
import { createOutboxWorker, type OutboxWorker, type OutboxWorkerOptions } from "./services/outbox-worker.js";
import { DEFAULT_RATE_LIMITS, type RateLimiter, type RateLimits } from "./services/rate-limit.js";
import { createSessions } from "./services/sessions.js";
import { createVault } from "./services/vault.js";

export interface ApiOptions {
  db: Db;
  bus: Bus;
  log: Logger;
  jwtSecret: string;
  jwtRequireExp: boolean;
  /** VAULT_KEY (32 bytes): seals key material and queued email. */
  vaultKey: Buffer;
  /** Keys rotated out: still open old rows, never seal. */
  previousVaultKeys?: readonly Buffer[];
  /** ADMIN_TOKEN: enables operator endpoints (announcements). */
  adminToken?: string | undefined;
  /** Base of the links in emails (FRONTEND_URL). */
  frontendUrl: string;
  mailer: Mailer;
  rateLimiter: RateLimiter;
  rateLimits?: Partial<RateLimits>;
  /** Proxies in front of the node that append X-Forwarded-For (0: trust the socket address). */
  trustProxyHops?: number;
  outbox?: Partial<Omit<OutboxWorkerOptions, "db" | "vault" | "mailer" | "log">> & { run?: boolean };
  /** Where request metrics go (served by the caller at /metrics); none when absent. */
  metrics?: Registry;
}

export interface Api {
  routes: readonly Route[];
  outbox: OutboxWorker;
  validAfter: ValidAfterCache;
  /** Stops the outbox worker and waits for background work. The caller then closes db and bus. */
  close(): Promise<void>;
}

/** Page-token MAC key: derived from JWT_SECRET under its own label, never the secret itself. */
export function pageTokenKey(jwtSecret: string): Buffer {
  return Buffer.from(hkdfSync("sha256", jwtSecret, Buffer.alloc(0), "nexus page tokens", 32));
}

/** Every route, for mounting and for the OpenAPI document. */
export function allRoutes(ctx: ApiContext): Route[] {
  return [
    ...authRoutes(ctx),
    ...accountRoutes(ctx),
    ...profileRoutes(ctx),
    ...messageRoutes(ctx),
    ...userRoutes(ctx),
    ...conversationRoutes(ctx),
    ...announcementRoutes(ctx),
  ];
}

export function mountApi(app: TemplatedApp, options: ApiOptions): Api {
  const { db, bus, log } = options;
  const validAfter = createValidAfterCache({
    load: (id) => userValidAfter(db, id),
    ttlMs: 30_000,
    max: 100_000,
  });
  const accessTokens = createAccessTokens({
    secret: options.jwtSecret,
    requireExp: options.jwtRequireExp,
    validAfter: validAfter.get,
  });
  const vault = createVault({ current: options.vaultKey, previous: options.previousVaultKeys ?? [] });
  const events = createApiEvents(bus);
  const { run: runOutbox = true, ...outboxOptions } = options.outbox ?? {};
  const outbox = createOutboxWorker({ db, vault, mailer: options.mailer, log, ...outboxOptions });
  const pending = new Set<Promise<void>>();

  const ctx: ApiContext = {
    db,
    log,
    accessTokens,
    validAfter,
    sessions: createSessions({ db, accessTokens, validAfter, events }),
    emails: createEmails({ vault, frontendUrl: options.frontendUrl }),
    outbox,
    events,
    vault,
    pageTokens: createPageTokens(pageTokenKey(options.jwtSecret)),
    background(task) {
      const p = task().catch((err: unknown) => log.error({ err }, "background task failed"));
      pending.add(p);
      void p.finally(() => pending.delete(p));
    },
  };

  const routes = allRoutes(ctx);
  mountRoutes(app, routes, {
    log,
    async authenticate(token) {
      const result = await accessTokens.verify(token);
      return result.ok ? result.userId : undefined;
    },
    ...(options.adminToken ? { isAdmin: secretMatcher(options.adminToken) } : {}),
    rateLimiter: options.rateLimiter,
    limits: { ...DEFAULT_RATE_LIMITS, ...options.rateLimits },
    trustProxyHops: options.trustProxyHops ?? 0,
    ...(options.metrics ? { observe: registerHttpMetrics(options.metrics) } : {}),
  });
  const openapi = renderOpenApi(routes);
  app.get("/api/openapi.json", (res) => {
    res.cork(() => res.writeHeader("content-type", "application/json; charset=utf-8").end(openapi));
  });

  // Another api node signed a user out: re-read their valid-after time on the next request.
  let unsubscribe: Unsubscribe | undefined;
  const subscribed = bus
    .subscribe(USERS_CONTROL_TOPIC, (msg) => {
      if (msg.kind === "control" && msg.action === "disconnect_user" && typeof msg.data === "string") {
        validAfter.invalidate(msg.data);
      }
    })
    .then((u) => {
      unsubscribe = u;
    })
    .catch((err: unknown) => log.error({ err }, "api: could not subscribe to user control events"));

  if (runOutbox) outbox.start();

  return {
    routes,
    outbox,
    validAfter,
    async close() {
      await outbox.stop();
      await Promise.allSettled([...pending]);
      await subscribed;
      await unsubscribe?.();
    },
  };
}
