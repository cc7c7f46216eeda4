/**
 * @module
 * Cluster presence: a pure CRDT state (each node the only writer of its entries) and a tracker
 * that replicates it over the bus. The gateway uses `createTracker`; the state functions are
 * exported for tests and tools. Test helpers (a phoenix.js Presence client model, a lossy bus,
 * a manual clock) are under `@nexus/presence/testing`.
 */
export { type Clock, createManualClock, type ManualClock, systemClock } from "./clock.js";
export { emptyDiff, isEmptyDiff } from "./diff.js";
export * as presenceState from "./state.js";
export {
  createTracker,
  type Tracker,
  type TrackerOptions,
  type TrackerStats,
  type TrackResult,
} from "./tracker.js";
export type {
  Delta,
  Meta,
  Owner,
  Presence,
  PresenceDiff,
  PresenceMap,
  RenderedMeta,
  Replica,
  Snapshot,
  WireEntry,
} from "./types.js";
