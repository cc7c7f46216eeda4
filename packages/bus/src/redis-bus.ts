/**
 * @module
 * Bus over Redis pub/sub (ioredis). One channel per topic, `${prefix}:t:${topic}`, subscribed
 * only while this node holds a handler for it. Two connections: the publisher pipelines (every
 * publish of one event-loop turn is one write, still one PUBLISH per message; see
 * redis-publisher.ts) and a dedicated subscriber. `sharded` switches to SPUBLISH/SSUBSCRIBE,
 * which Redis Cluster needs.
 *
 * Failure policy: pub/sub is at-most-once and Postgres is the truth, so nothing is buffered
 * while Redis is down. The offline queue is off on both connections: a publish while down is
 * dropped and counted at once (memory stays bounded during an outage), and commands in flight
 * when a connection drops are neither resent nor retried. The subscriber's subscriptions are
 * rebuilt by this module, not by ioredis's autoResubscribe: our handler table is the truth, and
 * isReady() must stay false until the resubscribe is acknowledged, not just until TCP is back.
 */
import { Redis, type RedisOptions } from "ioredis";
import { assertNodeId, type Bus, type BusLogger, type BusMessage, type NodeId } from "./bus.js";
import { createBusCore, throttled } from "./bus-core.js";
import { encodeEnvelope } from "./envelope.js";
import { createBatchPublisher } from "./redis-publisher.js";
import { createSubscriptions, type SubscriptionTransport } from "./subscriptions.js";

export interface RedisBusOptions {
  url: string;
  nodeId: NodeId;
  /** Namespaces channels (and tests); default "nexus". */
  prefix?: string;
  /** SPUBLISH/SSUBSCRIBE (Redis ≥ 7; required on Redis Cluster). Every node of a cluster must agree. */
  sharded?: boolean;
  /** Defaults to console; pass the app's pino logger. */
  logger?: BusLogger;
  /**
   * PING both connections this often; a connection that then receives nothing for this long is
   * destroyed and reconnected (ioredis `socketTimeout`). Catches half-open TCP, which keepalive
   * takes minutes to notice. Default 5000; 0 disables.
   */
  healthCheckMs?: number;
  /** Publishes queued or awaiting Redis's reply above which new ones are dropped (a slow Redis). Default 100k. */
  maxPendingPublishes?: number;
}

const consoleLogger: BusLogger = {
  warn: (obj, msg) => console.warn(msg, obj),
  error: (obj, msg) => console.error(msg, obj),
};

/** Max channels per SUBSCRIBE command; larger sets (a resubscribe) go as several pipelined commands. */
const SUBSCRIBE_CHUNK = 1_000;

/** Exponential from 50 ms, capped so a node is back within about a second of Redis returning. */
export function reconnectDelay(attempt: number): number {
  return Math.min(50 * 2 ** (attempt - 1), 900) + Math.floor(Math.random() * 100);
}

export function createRedisBus(opts: RedisBusOptions): Bus {
  const { url, nodeId, prefix = "nexus", sharded = false, logger = consoleLogger } = opts;
  const { healthCheckMs = 5_000, maxPendingPublishes = 100_000 } = opts;
  assertNodeId(nodeId);
  if (!/^[\x21-\x7e]{1,64}$/.test(prefix)) {
    throw new Error(
      `bus: expected prefix of 1-64 printable ASCII characters without spaces, got ${JSON.stringify(prefix)}`,
    );
  }
  const channelPrefix = `${prefix}:t:`;
  const core = createBusCore(nodeId, logger);
  const base: RedisOptions = {
    retryStrategy: reconnectDelay,
    enableOfflineQueue: false,
    autoResubscribe: false,
    autoResendUnfulfilledCommands: false,
    connectTimeout: 5_000,
    disconnectTimeout: 500,
    ...(healthCheckMs > 0 ? { socketTimeout: healthCheckMs } : {}),
  };
  const pub = new Redis(url, { ...base, connectionName: `${prefix}:${nodeId}:pub` });
  const sub = new Redis(url, { ...base, connectionName: `${prefix}:${nodeId}:sub` });
  let closed = false;

  const channels = (topics: string[]) => topics.map((t) => channelPrefix + t);
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
  // In a cluster every SSUBSCRIBE must stay within one slot, so shard channels go one per command.
  const transport: SubscriptionTransport = sharded
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

  const refresh = () =>
    core.setReady(!closed && pub.status === "ready" && sub.status === "ready" && subs.isSynced());
  const subs = createSubscriptions({
    transport,
    wanted: (topic) => core.holds(topic),
    wantedTopics: () => core.topics(),
    onSyncedChange: refresh,
    logger,
  });

  const onMessage = (channel: string, message: string) => {
    if (channel.startsWith(channelPrefix)) core.receive(channel.slice(channelPrefix.length), message);
  };
  sub.on(sharded ? "smessage" : "message", onMessage);
  sub.on("ready", () => {
    subs.connected();
    refresh();
  });
  sub.on("close", () => {
    subs.disconnected();
    refresh();
  });
  for (const [name, client] of [
    ["publisher", pub],
    ["subscriber", sub],
  ] as const) {
    // An unhandled 'error' event would crash the process. While Redis is down ioredis emits the
    // same ECONNREFUSED on every retry; log each distinct error once per outage.
    let lastError = "";
    client.on("error", (err: Error) => {
      if (err.message === lastError) return;
      lastError = err.message;
      logger.warn({ err, connection: name, nodeId }, "bus: redis connection error");
    });
    client.on("ready", () => {
      lastError = "";
    });
  }
  pub.on("ready", refresh);
  pub.on("close", () => {
    batch.connectionLost();
    refresh();
  });
  core.onReadyChange((ready) => {
    if (closed) return;
    if (ready) logger.info?.({ nodeId, prefix, sharded }, "bus: ready");
    else logger.warn({ nodeId, prefix }, "bus: not ready; publishes are dropped until Redis is back");
  });

  const healthTimer =
    healthCheckMs > 0
      ? setInterval(() => {
          for (const c of [pub, sub]) if (c.status === "ready") c.ping().catch(noop);
        }, healthCheckMs)
      : undefined;
  healthTimer?.unref();

  const warnPublish = throttled(5_000, (o, m) => logger.warn(o, m));
  const batch = createBatchPublisher(pub, {
    sharded,
    maxPending: maxPendingPublishes,
    onError(count, err) {
      core.counters.publishErrors += count;
      warnPublish({ err, nodeId, count }, "bus: publishes failed");
    },
  });

  return {
    nodeId,
    publish(topic: string, msg: BusMessage) {
      if (closed) return;
      if (pub.status !== "ready") {
        core.counters.publishErrors++;
        warnPublish({ nodeId, status: pub.status }, "bus: publish dropped, redis not connected");
        return;
      }
      let wire: string;
      try {
        wire = encodeEnvelope(nodeId, msg);
      } catch (err) {
        core.counters.publishErrors++;
        logger.error({ err, topic, kind: msg.kind }, "bus: message cannot be encoded");
        return;
      }
      if (!batch.send(channelPrefix + topic, wire)) {
        core.counters.publishErrors++;
        warnPublish({ nodeId, maxPendingPublishes }, "bus: publish dropped, too many awaiting Redis");
        return;
      }
      core.counters.published++;
    },
    async subscribe(topic, handler) {
      if (closed) throw new Error(`bus ${nodeId} is closed`);
      const entry = core.add(topic, handler);
      try {
        await subs.want(topic);
      } catch (err) {
        core.remove(entry);
        if (!core.holds(topic)) void subs.release(topic);
        throw err;
      }
      let removed = false;
      return async () => {
        if (removed) return;
        removed = true;
        core.remove(entry);
        if (!core.holds(topic)) await subs.release(topic);
      };
    },
    isReady: () => core.ready(),
    onReadyChange: (cb) => core.onReadyChange(cb),
    stats: () => core.stats(),
    async close() {
      if (closed) return;
      closed = true;
      clearInterval(healthTimer);
      subs.close();
      core.clear();
      core.setReady(false);
      batch.flush();
      await Promise.all([quit(pub), quit(sub)]);
    },
  };
}

function noop() {}

/** QUIT politely when connected; never wait more than a second, and stop reconnecting either way. */
async function quit(client: Redis): Promise<void> {
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
