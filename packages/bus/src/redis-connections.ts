/**
 * @module
 * The bus's connections to Redis, seen by redis-bus.ts as one `RedisLink`: a client to publish
 * on, a subscriber side that is up or down as a whole, and the subscribe commands that match it.
 * This file holds the single-Redis link and what both kinds share (the failure policy, error
 * logging, shutdown); redis-cluster-link.ts holds the Redis Cluster one.
 */
import { type Cluster, Redis, type RedisOptions } from "ioredis";
import type { BusLogger } from "./bus.js";
import type { SubscriptionTransport } from "./subscriptions.js";

export interface LinkOptions {
  url: string;
  nodeId: string;
  /** Connections are named `${name}:pub` and `${name}:sub` (CLIENT SETNAME). */
  name: string;
  channelPrefix: string;
  sharded: boolean;
  healthCheckMs: number;
  logger: BusLogger;
}

/** What the link reports to the bus. Every callback runs inside a client's event handler. */
export interface LinkEvents {
  message(channel: string, message: string): void;
  /** Every subscriber connection is ready and holds no subscription: time to resubscribe. */
  subscriberUp(): void;
  /** A subscriber connection dropped: the broker has forgotten (or will have, before the next subscriberUp) every subscription. */
  subscriberDown(): void;
  /** The publisher's readiness may have changed. */
  publisherChange(): void;
  /** A publisher connection dropped: replies to what was in flight on it may never come. */
  publisherLost(): void;
}

export interface RedisLink {
  readonly publisher: Redis | Cluster;
  publisherReady(): boolean;
  subscriberReady(): boolean;
  readonly transport: SubscriptionTransport;
  /** One health-check round: PING every connection that is up (its socketTimeout does the rest). */
  ping(): void;
  close(): Promise<void>;
}

/** Max channels per (S)SUBSCRIBE command; larger sets (a resubscribe) go as several pipelined commands. */
export const SUBSCRIBE_CHUNK = 1_000;

/** Exponential from 50 ms, capped so a node is back within about a second of Redis returning. */
export function reconnectDelay(attempt: number): number {
  return Math.min(50 * 2 ** (attempt - 1), 900) + Math.floor(Math.random() * 100);
}

/**
 * The failure policy of every bus connection (redis-bus.ts explains it): reconnect quickly, no
 * offline queue, no resend of what was in flight, no ioredis resubscribe, and a socket timeout
 * that turns an unanswered health-check PING into a reconnect.
 */
export function connectionPolicy(healthCheckMs: number): RedisOptions {
  return {
    retryStrategy: reconnectDelay,
    enableOfflineQueue: false,
    autoResubscribe: false,
    autoResendUnfulfilledCommands: false,
    connectTimeout: 5_000,
    disconnectTimeout: 500,
    ...(healthCheckMs > 0 ? { socketTimeout: healthCheckMs } : {}),
  };
}

/**
 * How a REDIS_URL names one node of a Redis Cluster: where discovery starts, and the credentials
 * and TLS that every node it finds is then reached with.
 */
export function clusterSeed(url: string): {
  seed: { host: string; port: number };
  redisOptions: Pick<RedisOptions, "username" | "password" | "tls">;
} {
  const u = new URL(url);
  if (u.pathname !== "" && u.pathname !== "/" && u.pathname !== "/0") {
    throw new Error(
      `expected a Redis Cluster URL without a database (a cluster has only 0), got ${u.pathname}`,
    );
  }
  return {
    seed: { host: u.hostname.replace(/^\[(.*)\]$/, "$1") || "127.0.0.1", port: Number(u.port || 6379) },
    redisOptions: {
      ...(u.username ? { username: decodeURIComponent(u.username) } : {}),
      ...(u.password ? { password: decodeURIComponent(u.password) } : {}),
      ...(u.protocol === "rediss:" ? { tls: {} } : {}),
    },
  };
}

interface Emitter {
  on(event: string, listener: (err: Error) => void): unknown;
}

/**
 * An unhandled 'error' event would crash the process. While Redis is down ioredis emits the same
 * ECONNREFUSED on every retry; each distinct error is logged once per outage.
 */
export function logErrors(
  client: Emitter,
  connection: string,
  { logger, nodeId }: Pick<LinkOptions, "logger" | "nodeId">,
  events: readonly string[] = ["error"],
): void {
  let lastError = "";
  const log = (err: Error) => {
    if (err.message === lastError) return;
    lastError = err.message;
    logger.warn({ err, connection, nodeId }, "bus: redis connection error");
  };
  for (const event of events) client.on(event, log);
  client.on("ready", () => {
    lastError = "";
  });
}

export function noop() {}

/**
 * ioredis opens a Cluster's connection to a master on the first command for it, and with the
 * offline queue off a command that arrives while that connection is still opening is refused:
 * so open them all once the client is ready, and again after each slot map refresh (a new
 * master). Not before ready: the client's own ready check (CLUSTER INFO) would be refused alike.
 */
export function connectMastersEagerly(cluster: Cluster): void {
  const connect = () => {
    if (cluster.status !== "ready") return;
    for (const node of cluster.nodes("master")) if (node.status === "wait") node.connect().catch(noop);
  };
  cluster.on("ready", connect);
  cluster.on("refresh", connect);
}

/** QUIT politely when connected; never wait more than a second, and stop reconnecting either way. */
export async function quit(client: Redis | Cluster): Promise<void> {
  if (client.status === "ready") {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      client.quit().catch(noop),
      new Promise((resolve) => {
        timer = setTimeout(resolve, 1_000);
      }),
    ]);
    clearTimeout(timer);
  }
  client.disconnect();
}

/** Two connections to one Redis: a publisher and a dedicated subscriber. */
export function singleLink(o: LinkOptions, ev: LinkEvents): RedisLink {
  const policy = connectionPolicy(o.healthCheckMs);
  const pub = new Redis(o.url, { ...policy, connectionName: `${o.name}:pub` });
  const sub = new Redis(o.url, { ...policy, connectionName: `${o.name}:sub` });
  logErrors(pub, "publisher", o);
  logErrors(sub, "subscriber", o);

  const channels = (topics: string[]) => topics.map((t) => o.channelPrefix + t);
  const chunked = (topics: string[], send: (chs: string[]) => Promise<unknown>) => {
    const sends: Array<Promise<unknown>> = [];
    for (let i = 0; i < topics.length; i += SUBSCRIBE_CHUNK) {
      sends.push(send(channels(topics.slice(i, i + SUBSCRIBE_CHUNK))));
    }
    return Promise.all(sends);
  };
  // The stream can die a moment before ioredis reports 'close'; a command written then fails
  // with one of these and the reconnect will resubscribe.
  const isConnectionError = (err: unknown) =>
    sub.status !== "ready" ||
    (err instanceof Error && /writeable|Connection is closed|Socket timeout|aborted/.test(err.message));
  const transport: SubscriptionTransport = o.sharded
    ? {
        subscribe: (topics) => Promise.all(channels(topics).map((ch) => sub.ssubscribe(ch))),
        unsubscribe: (topics) => Promise.all(channels(topics).map((ch) => sub.sunsubscribe(ch))),
        isConnectionError,
      }
    : {
        subscribe: (topics) => chunked(topics, (chs) => sub.subscribe(...chs)),
        unsubscribe: (topics) => chunked(topics, (chs) => sub.unsubscribe(...chs)),
        isConnectionError,
      };

  sub.on(o.sharded ? "smessage" : "message", ev.message);
  sub.on("ready", ev.subscriberUp);
  sub.on("close", ev.subscriberDown);
  pub.on("ready", ev.publisherChange);
  pub.on("close", () => {
    ev.publisherLost();
    ev.publisherChange();
  });

  return {
    publisher: pub,
    publisherReady: () => pub.status === "ready",
    subscriberReady: () => sub.status === "ready",
    transport,
    ping() {
      for (const c of [pub, sub]) if (c.status === "ready") c.ping().catch(noop);
    },
    async close() {
      await Promise.all([quit(pub), quit(sub)]);
    },
  };
}
