/**
 * @module
 * In-process bus. Several buses on one hub behave like several nodes on one broker: delivery is
 * asynchronous (a microtask per recipient, FIFO, so publish order holds), never to the
 * publisher, and goes through the wire codec so receivers get their own copy and messages that
 * would not survive Redis fail here too. With a single node (the standalone server) a publish
 * reaches nobody and costs one map lookup.
 */
import { assertNodeId, type Bus, type BusLogger, type BusMessage, type NodeId } from "./bus.js";
import { type BusCore, createBusCore, silentLogger } from "./bus-core.js";
import { encodeEnvelope } from "./envelope.js";

/** The shared "broker". Opaque to callers; pass the same hub to buses that form one cluster. */
export interface MemoryHub {
  /** Buses (nodes) currently subscribed to `topic`. */
  subscribers(topic: string): number;
}

interface HubInternals extends MemoryHub {
  join(topic: string, node: BusCore): void;
  leave(topic: string, node: BusCore): void;
  publish(from: BusCore, topic: string, encode: () => string): boolean;
}

export function createMemoryHub(): MemoryHub {
  const topics = new Map<string, Set<BusCore>>();
  const hub: HubInternals = {
    subscribers: (topic) => topics.get(topic)?.size ?? 0,
    join(topic, node) {
      const set = topics.get(topic);
      if (set) set.add(node);
      else topics.set(topic, new Set([node]));
    },
    leave(topic, node) {
      const set = topics.get(topic);
      if (set?.delete(node) && set.size === 0) topics.delete(topic);
    },
    publish(from, topic, encode) {
      const set = topics.get(topic);
      if (!set) return false;
      let wire: string | undefined;
      for (const node of set) {
        if (node === from) continue;
        wire ??= encode();
        const w = wire;
        // A node that left after this publish still gets it, like a Redis message already on
        // the socket; its handler table no longer has the handler, so nothing runs.
        queueMicrotask(() => node.receive(topic, w));
      }
      return true;
    },
  };
  return hub;
}

export interface MemoryBusOptions {
  nodeId: NodeId;
  /** Defaults to a private hub: a single-node cluster. */
  hub?: MemoryHub;
  logger?: BusLogger;
}

export function createMemoryBus({
  nodeId,
  hub = createMemoryHub(),
  logger = silentLogger,
}: MemoryBusOptions): Bus {
  assertNodeId(nodeId);
  const h = hub as HubInternals;
  const core = createBusCore(nodeId, logger);
  let closed = false;
  core.setReady(true);

  return {
    nodeId,
    publish(topic: string, msg: BusMessage) {
      if (closed) return;
      try {
        h.publish(core, topic, () => encodeEnvelope(nodeId, msg));
        core.counters.published++;
      } catch (err) {
        // Only the encoder can throw here (e.g. a BigInt in a control message).
        core.counters.publishErrors++;
        logger.error({ err, topic, kind: msg.kind }, "bus: publish failed");
      }
    },
    async subscribe(topic, handler) {
      if (closed) throw new Error(`bus ${nodeId} is closed`);
      const entry = core.add(topic, handler);
      h.join(topic, core);
      // The hub registration above is already live; the await mimics a broker round trip.
      await Promise.resolve();
      if (closed) throw new Error(`bus ${nodeId} closed while subscribing`);
      let removed = false;
      return async () => {
        if (removed) return;
        removed = true;
        core.remove(entry);
        if (!core.holds(topic)) h.leave(topic, core);
      };
    },
    isReady: () => core.ready(),
    onReadyChange: (cb) => core.onReadyChange(cb),
    stats: () => core.stats(),
    async close() {
      if (closed) return;
      closed = true;
      for (const topic of core.topics()) h.leave(topic, core);
      core.clear();
      core.setReady(false);
    },
  };
}
