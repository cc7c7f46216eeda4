/** @module The bus a process runs on: Redis when it has a URL (a cluster), in memory otherwise (one node). */
import type { Bus, BusLogger } from "./bus.js";
import { createMemoryBus, type MemoryHub } from "./memory-bus.js";
import { createRedisBus } from "./redis-bus.js";

export function createBus({
  redisUrl,
  redisCluster = false,
  nodeId,
  logger,
  hub,
}: {
  redisUrl: string | undefined;
  /** `redisUrl` names one node of a Redis Cluster (REDIS_CLUSTER): sharded pub/sub. */
  redisCluster?: boolean;
  nodeId: string;
  logger: BusLogger;
  /** Several in-memory buses on one hub reach each other (e.g. the standalone node's api and gateway). */
  hub?: MemoryHub;
}): Bus {
  return redisUrl
    ? createRedisBus({ url: redisUrl, cluster: redisCluster, nodeId, logger })
    : createMemoryBus({ nodeId, logger, ...(hub ? { hub } : {}) });
}
