/**
 * @module
 * The bus's link to a Redis Cluster (REDIS_CLUSTER=true): sharded pub/sub, SPUBLISH through an
 * ioredis Cluster client (redis-publisher.ts keeps each pipeline within one slot group) and
 * SSUBSCRIBE on one subscriber connection per master, opened here, each channel on the master
 * that owns its slot.
 *
 * Why not ioredis's own sharded subscribers (`shardedSubscribers: true`): it resubscribes by
 * itself, fire-and-forget, so nothing says when the broker acknowledged the resubscribe, which is
 * what isReady() waits for; it appends every SSUBSCRIBE's channels to its list without removing
 * duplicates, so each of our resubscribes would grow that list and it would replay them; and its
 * connections never reconnect, queue while offline and are private, out of reach of this failure
 * policy and of the health check (ioredis 6.0.0, cluster/ClusterSubscriberGroup.js and
 * ShardedSubscriber.js).
 *
 * The subscriber connections act as one connection would: up only when every master's is ready,
 * down as soon as one drops, the slot map changes, or a subscribe fails in a way a retry fixes
 * (MOVED, CLUSTERDOWN, a connection error). Going down replaces every subscriber connection, so
 * down means what it means on one Redis, the broker has forgotten every subscription, and
 * subscriptions.ts's resubscribe rebuilds exactly the wanted set on the masters that own the slots
 * now. The price: while one master is unreachable this node receives nothing, and a blip on one
 * master costs a resubscribe on all. Redis Cluster itself stops serving every slot once a master
 * is marked failed (cluster-require-full-coverage, the default).
 */
import { Cluster, Redis } from "ioredis";
import { keySlot, SLOTS } from "./key-slot.js";
import {
  clusterSeed,
  connectionPolicy,
  connectMastersEagerly,
  type LinkEvents,
  type LinkOptions,
  logErrors,
  noop,
  quit,
  type RedisLink,
  reconnectDelay,
  SUBSCRIBE_CHUNK,
} from "./redis-connections.js";

/** Replies a retry fixes: the slot moved, the cluster is (re)forming, a restarted master is loading. */
const TRANSIENT_REPLY = /^(MOVED|ASK|CLUSTERDOWN|TRYAGAIN|LOADING|MASTERDOWN)\b/;
/** Anything but a plain refusal (unknown command, NOPERM) is the link's to retry, not the caller's. */
const isTransient = (err: unknown) =>
  err instanceof Error && (err.name !== "ReplyError" || TRANSIENT_REPLY.test(err.message));

export function clusterLink(o: LinkOptions, ev: LinkEvents): RedisLink {
  const { seed, redisOptions: auth } = clusterSeed(o.url);
  const policy = { ...connectionPolicy(o.healthCheckMs), ...auth };
  // The Cluster client takes these two at its own level (below); its nodes get the rest.
  const { retryStrategy: _r, enableOfflineQueue: _q, ...perNode } = policy;
  const pub = new Cluster([seed], {
    clusterRetryStrategy: reconnectDelay,
    // A master's connection reconnects by itself rather than leaving the pool until a MOVED or
    // the next slot refresh brings it back.
    clusterNodeRetryStrategy: reconnectDelay,
    enableOfflineQueue: false,
    // Fail a command at once rather than retry it in the background: publishes are at most once.
    retryDelayOnFailover: 0,
    retryDelayOnClusterDown: 0,
    redisOptions: { ...perNode, connectionName: `${o.name}:pub` },
  });
  logErrors(pub, "publisher", o, ["error", "node error"]);
  // Read on every publish, so kept up to date by events rather than computed there.
  let publisherReady = false;
  const publisherChange = () => {
    const masters = pub.nodes("master");
    publisherReady =
      pub.status === "ready" && masters.length > 0 && masters.every((node) => node.status === "ready");
    ev.publisherChange();
  };
  // Ready means a connection to every master is open, not merely the client.
  connectMastersEagerly(pub);
  pub.on("+node", (node: Redis) => {
    node.on("ready", () => {
      // ioredis turns the offline queue on for a Cluster's node connections, whatever the
      // options say (its ready check goes through one before it has opened). Left on, a publish
      // written as the socket dies waits in it and goes out after the reconnect; off, it fails.
      node.options.enableOfflineQueue = false;
      publisherChange();
    });
    node.on("close", () => {
      ev.publisherLost();
      publisherChange();
    });
    publisherChange();
  });
  pub.on("-node", publisherChange);
  for (const status of ["close", "reconnecting", "end"]) pub.on(status, publisherChange);
  pub.on("close", ev.publisherLost);

  /** Master ("host:port") of each slot, as of the slot map this link last acted on. */
  let owners: Array<string | undefined> = [];
  /** One subscriber connection per master, by master. */
  const shards = new Map<string, Redis>();
  let up = false;
  let closed = false;
  /** Bumped on every down: a failure of a command sent before it is already dealt with. */
  let epoch = 0;
  let failures = 0;
  let retryAt = 0;
  let retryTimer: NodeJS.Timeout | undefined;

  const open = (master: string) => {
    const colon = master.lastIndexOf(":");
    const conn = new Redis({
      ...policy,
      host: master.slice(0, colon),
      port: Number(master.slice(colon + 1)),
      connectionName: `${o.name}:sub`,
    });
    logErrors(conn, `subscriber ${master}`, o);
    conn.on("smessage", ev.message);
    conn.on("ready", () => {
      if (shards.get(master) === conn) maybeUp();
    });
    conn.on("close", () => {
      if (shards.get(master) === conn) goDown();
    });
    return conn;
  };

  const goDown = () => {
    if (!up || closed) return;
    up = false;
    epoch++;
    ev.subscriberDown();
    // The connections still up hold subscriptions the handler table no longer accounts for
    // (an unsubscribe while down is not sent); fresh connections hold none.
    for (const [master, conn] of shards) {
      conn.disconnect();
      shards.set(master, open(master));
    }
  };

  const maybeUp = () => {
    if (up || closed || shards.size === 0) return;
    for (const conn of shards.values()) if (conn.status !== "ready") return;
    const wait = retryAt - Date.now();
    if (wait > 0) {
      retryTimer ??= setTimeout(() => {
        retryTimer = undefined;
        maybeUp();
      }, wait);
      return;
    }
    up = true;
    ev.subscriberUp();
  };

  /** A subscribe sent in `sentIn` failed in a way a retry fixes: down now, up again after a backoff. */
  const retryLater = (sentIn: number) => {
    if (sentIn !== epoch) return;
    failures++;
    retryAt = Date.now() + reconnectDelay(failures);
    pub.refreshSlotsCache(); // in case it was a MOVED: the next try routes by the new map
    goDown();
  };

  const onSlotMap = () => {
    if (closed) return;
    const next = new Array<string | undefined>(SLOTS);
    let changed = owners.length === 0;
    for (let slot = 0; slot < SLOTS; slot++) {
      next[slot] = pub.slots[slot]?.[0];
      if (next[slot] !== owners[slot]) changed = true;
    }
    if (!changed) return;
    owners = next;
    const masters = new Set(next.filter((m) => m !== undefined));
    for (const [master, conn] of shards) {
      if (masters.has(master)) continue;
      conn.disconnect();
      shards.delete(master);
    }
    goDown();
    for (const master of masters) if (!shards.has(master)) shards.set(master, open(master));
    maybeUp();
  };
  // After every slot map fetch: every 5 s, and after a MOVED.
  pub.on("refresh", onSlotMap);
  pub.on("ready", () => {
    onSlotMap();
    publisherChange();
  });

  const send = (topics: string[], command: "ssubscribe" | "sunsubscribe") => {
    const sentIn = epoch;
    const bySlot = new Map<number, string[]>();
    for (const t of topics) {
      const channel = o.channelPrefix + t;
      const slot = keySlot(channel);
      const list = bySlot.get(slot);
      if (list) list.push(channel);
      else bySlot.set(slot, [channel]);
    }
    // One command per slot: SSUBSCRIBE refuses channels of different slots (CROSSSLOT).
    const sends: Array<Promise<unknown>> = [];
    for (const [slot, channels] of bySlot) {
      const conn = shards.get(owners[slot] ?? "");
      if (!conn) {
        sends.push(Promise.reject(new Error(`bus: no master known for hash slot ${slot}`)));
        continue;
      }
      for (let i = 0; i < channels.length; i += SUBSCRIBE_CHUNK) {
        sends.push(conn[command](...channels.slice(i, i + SUBSCRIBE_CHUNK)));
      }
    }
    return Promise.all(sends).then(
      () => {
        if (sentIn === epoch) failures = 0;
      },
      (err: unknown) => {
        // Before subscriptions.ts sees the failure: the down it then finds makes it drop the
        // pass, and the next up resubscribes everything.
        if (isTransient(err)) retryLater(sentIn);
        throw err;
      },
    );
  };

  return {
    publisher: pub,
    publisherReady: () => publisherReady,
    subscriberReady: () => up,
    transport: {
      subscribe: (topics) => send(topics, "ssubscribe"),
      unsubscribe: (topics) => send(topics, "sunsubscribe"),
      isConnectionError: (err) => !up || isTransient(err),
    },
    ping() {
      for (const node of pub.nodes("master")) if (node.status === "ready") node.ping().catch(noop);
      for (const conn of shards.values()) if (conn.status === "ready") conn.ping().catch(noop);
    },
    async close() {
      closed = true;
      up = false;
      clearTimeout(retryTimer);
      await Promise.all([quit(pub), ...[...shards.values()].map(quit)]);
    },
  };
}
