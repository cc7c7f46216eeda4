/**
 * @module
 * Redis Cluster's hash slot of a key (CRC16 of the key, or of its first non-empty `{hash tag}`,
 * mod 16384), from `cluster-key-slot`: the function ioredis routes every cluster command by, so
 * our per-slot pipeline groups and its routing can never disagree.
 * redis-cluster-bus.int.test.ts also checks it against CLUSTER KEYSLOT.
 */
import calculateSlot from "cluster-key-slot";

export const SLOTS = 16_384;

export const keySlot = (key: string): number => calculateSlot(key);
