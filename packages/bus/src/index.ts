/** @module Cluster bus: the `Bus` seam, an in-process implementation and a Redis one. */
export {
  assertNodeId,
  type Bus,
  type BusHandler,
  type BusLogger,
  type BusMessage,
  type BusMessageKind,
  type BusMessageTypes,
  type BusStats,
  type NodeId,
  type Unsubscribe,
  whenReady,
} from "./bus.js";
export { createBus } from "./create-bus.js";
export { createMemoryBus, createMemoryHub, type MemoryBusOptions, type MemoryHub } from "./memory-bus.js";
export { createRedisBus, type RedisBusOptions } from "./redis-bus.js";
export { clusterSeed, connectMastersEagerly } from "./redis-connections.js";
