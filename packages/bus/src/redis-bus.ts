/**
 * @module
 * Bus over Redis pub/sub (ioredis). One channel per topic, `${prefix}:t:${topic}`, subscribed
 * only while this node holds a handler for it. Two sides: the publisher pipelines (every publish
 * of one event-loop turn is one write per Redis, still one PUBLISH per message; see
 * redis-publisher.ts) and a dedicated subscriber. `sharded` switches to SPUBLISH/SSUBSCRIBE;
 * `cluster` takes the URL as one node of a Redis Cluster, which needs sharded pub/sub and one
 * subscriber connection per master (redis-cluster-link.ts). Which connections exist is the
 * link's business (redis-connections.ts); this module sees a publisher and a subscriber side
 * that is up or down as a whole.
 *
 * Failure policy: pub/sub is at-most-once and Postgres is the truth, so nothing is buffered
 * while Redis is down. The offline queue is off on every connection: a publish while down is
 * dropped and counted at once (memory stays bounded during an outage), and commands in flight
 * when a connection drops are neither resent nor retried. Subscriptions are rebuilt by this
 * module, not by ioredis (autoResubscribe, or a Cluster's own sharded subscribers): our handler
 * table is the truth, and isReady() must stay false until the resubscribe is acknowledged, not
 * just until TCP is back.
 */
import { assertNodeId, type Bus, type BusLogger, type BusMessage, type NodeId } from "./bus.js";
import { createBusCore, throttled } from "./bus-core.js";
import { encodeEnvelope } from "./envelope.js";
import { clusterLink } from "./redis-cluster-link.js";
import { type LinkEvents, type LinkOptions, type RedisLink, singleLink } from "./redis-connections.js";
import { createBatchPublisher } from "./redis-publisher.js";
import { createSubscriptions } from "./subscriptions.js";

export { reconnectDelay } from "./redis-connections.js";

export interface RedisBusOptions {
  url: string;
  nodeId: NodeId;
  /** Namespaces channels (and tests); default "nexus". */
  prefix?: string;
  /** SPUBLISH/SSUBSCRIBE (Redis ≥ 7). Every node of a cluster must agree. */
  sharded?: boolean;
  /**
   * `url` names one node of a Redis Cluster (≥ 7); the others are discovered from it. Implies
   * `sharded`: each channel lives on the master that owns its hash slot.
   */
  cluster?: boolean;
  /** Defaults to console; pass the app's pino logger. */
  logger?: BusLogger;
  /**
   * PING every connection this often; a connection that then receives nothing for this long is
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

export function createRedisBus(opts: RedisBusOptions): Bus {
  const { url, nodeId, prefix = "nexus", cluster = false, logger = consoleLogger } = opts;
  const { healthCheckMs = 5_000, maxPendingPublishes = 100_000 } = opts;
  const sharded = cluster || (opts.sharded ?? false);
  assertNodeId(nodeId);
  if (!/^[\x21-\x7e]{1,64}$/.test(prefix)) {
    throw new Error(
      `bus: expected prefix of 1-64 printable ASCII characters without spaces, got ${JSON.stringify(prefix)}`,
    );
  }
  const channelPrefix = `${prefix}:t:`;
  const core = createBusCore(nodeId, logger);
  let closed = false;

  const refresh = () =>
    core.setReady(!closed && link.publisherReady() && link.subscriberReady() && subs.isSynced());
  const events: LinkEvents = {
    message(channel, message) {
      if (channel.startsWith(channelPrefix)) core.receive(channel.slice(channelPrefix.length), message);
    },
    subscriberUp() {
      subs.connected();
      refresh();
    },
    subscriberDown() {
      subs.disconnected();
      refresh();
    },
    publisherChange: refresh,
    publisherLost: () => batch.connectionLost(),
  };
  // Every event above arrives from a client's event handler, after this function has returned.
  const linkOptions: LinkOptions = {
    url,
    nodeId,
    name: `${prefix}:${nodeId}`,
    channelPrefix,
    sharded,
    healthCheckMs,
    logger,
  };
  const link: RedisLink = cluster ? clusterLink(linkOptions, events) : singleLink(linkOptions, events);
  const subs = createSubscriptions({
    transport: link.transport,
    wanted: (topic) => core.holds(topic),
    wantedTopics: () => core.topics(),
    onSyncedChange: refresh,
    logger,
  });
  core.onReadyChange((ready) => {
    if (closed) return;
    if (ready) logger.info?.({ nodeId, prefix, sharded, cluster }, "bus: ready");
    else logger.warn({ nodeId, prefix }, "bus: not ready; publishes are dropped until Redis is back");
  });

  const healthTimer = healthCheckMs > 0 ? setInterval(() => link.ping(), healthCheckMs) : undefined;
  healthTimer?.unref();

  const warnPublish = throttled(5_000, (o, m) => logger.warn(o, m));
  const batch = createBatchPublisher(link.publisher, {
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
      if (!link.publisherReady()) {
        core.counters.publishErrors++;
        warnPublish({ nodeId, status: link.publisher.status }, "bus: publish dropped, redis not connected");
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
      await link.close();
    },
  };
}
