/**
 * @module
 * An in-process api node exactly as production builds it (real Postgres, real argon2, real
 * SMTP when given one), on a free port, with an in-memory bus on a hub the test can listen
 * to. Log lines are captured so tests can check that secrets never reach them.
 */
import { randomBytes } from "node:crypto";
import { Writable } from "node:stream";
import { type BusMessage, createMemoryBus, createMemoryHub, type MemoryHub } from "@nexus/bus";
import { createLogger } from "@nexus/config";
import { createDb, type DbHandle } from "@nexus/db";
import { listen, uWS } from "@nexus/http";
import { type Api, mountApi } from "../api.js";
import { createLogMailer, createSmtpMailer, type Mailer } from "../services/mailer.js";
import { createMemoryRateLimiter, type RateLimiter, type RateLimits } from "../services/rate-limit.js";

export const TEST_JWT_SECRET = "test-jwt-secret-0123456789abcdef-0123456789";
export const TEST_VAULT_KEY = Buffer.alloc(32, 7);
export const TEST_FRONTEND_URL = "https://app.example.test";

/** Generous enough that only the rate-limit tests ever hit a limit. */
export const RELAXED_LIMITS: RateLimits = {
  auth_ip: { limit: 100_000, windowMs: 60_000 },
  register_ip: { limit: 100_000, windowMs: 60_000 },
  login_email: { limit: 100_000, windowMs: 60_000 },
  email_send: { limit: 100_000, windowMs: 60_000 },
};

export interface CallOptions {
  body?: unknown;
  /** Sent as is (for malformed JSON); wins over `body`. */
  rawBody?: string | Buffer;
  token?: string;
  headers?: Record<string, string>;
}

export interface CallResult {
  status: number;
  headers: Headers;
  /** Parsed JSON body, or undefined when empty. */
  json: unknown;
  text: string;
}

export interface ApiServer {
  url: string;
  database: DbHandle;
  api: Api;
  hub: MemoryHub;
  logLines: string[];
  call(method: string, path: string, options?: CallOptions): Promise<CallResult>;
  close(): Promise<void>;
}

export async function startApiServer(opts: {
  databaseUrl: string;
  smtpUrl?: string;
  hub?: MemoryHub;
  rateLimits?: Partial<RateLimits>;
  rateLimiter?: RateLimiter;
  outbox?: Parameters<typeof mountApi>[1]["outbox"];
  /** VAULT_KEY rotation tests: defaults to TEST_VAULT_KEY with no previous keys. */
  vaultKey?: Buffer;
  previousVaultKeys?: readonly Buffer[];
  adminToken?: string;
}): Promise<ApiServer> {
  const database = createDb({ kind: "postgres", url: opts.databaseUrl, poolSize: 8 });
  const hub = opts.hub ?? createMemoryHub();
  const bus = createMemoryBus({ hub, nodeId: `api-${randomBytes(3).toString("hex")}` });
  const logLines: string[] = [];
  const log = createLogger({
    level: "debug",
    pretty: false,
    destination: new Writable({
      write(chunk: Buffer, _enc, done) {
        logLines.push(chunk.toString());
        done();
      },
    }),
  });
  const mailer: Mailer = opts.smtpUrl
    ? createSmtpMailer({ url: opts.smtpUrl, from: "nexus@example.test" })
    : createLogMailer(log, "nexus@example.test");
  const rateLimiter = opts.rateLimiter ?? createMemoryRateLimiter();
  const app = uWS.App();
  const api = mountApi(app, {
    db: database.db,
    bus,
    log,
    jwtSecret: TEST_JWT_SECRET,
    jwtRequireExp: false,
    vaultKey: opts.vaultKey ?? TEST_VAULT_KEY,
    previousVaultKeys: opts.previousVaultKeys ?? [],
    frontendUrl: TEST_FRONTEND_URL,
    mailer,
    rateLimiter,
    rateLimits: { ...RELAXED_LIMITS, ...opts.rateLimits },
    outbox: { pollMs: 200, ...opts.outbox },
    adminToken: opts.adminToken,
  });
  const listening = await listen(app, "127.0.0.1", 0);
  const url = `http://127.0.0.1:${listening.port}`;
  return {
    url,
    database,
    api,
    hub,
    logLines,
    async call(method, path, { body, rawBody, token, headers = {} } = {}) {
      const h: Record<string, string> = { ...headers };
      if (token !== undefined) h.authorization = `Bearer ${token}`;
      let payload: string | Buffer | undefined = rawBody;
      if (payload === undefined && body !== undefined) {
        payload = JSON.stringify(body);
        h["content-type"] = "application/json";
      }
      const res = await fetch(`${url}${path}`, {
        method,
        headers: h,
        ...(payload === undefined ? {} : { body: payload }),
      });
      const text = await res.text();
      let json: unknown;
      if (text !== "") {
        try {
          json = JSON.parse(text);
        } catch {
          json = undefined;
        }
      }
      return { status: res.status, headers: res.headers, json, text };
    },
    async close() {
      listening.close();
      await api.close();
      await rateLimiter.close();
      await bus.close();
      await database.close();
    },
  };
}

/** Every message published on `topic` by any node on the hub. */
export async function recordTopic(
  hub: MemoryHub,
  topic: string,
): Promise<{ messages: BusMessage[]; stop(): Promise<void> }> {
  const listener = createMemoryBus({ hub, nodeId: `listener-${randomBytes(3).toString("hex")}` });
  const messages: BusMessage[] = [];
  await listener.subscribe(topic, (msg) => messages.push(msg));
  return { messages, stop: () => listener.close() };
}
