/** @module Helpers for the Redis bus integration tests: clusters on a unique prefix, captured logs. */
import { randomUUID } from "node:crypto";
import { type Bus, type BusLogger, whenReady } from "./bus.js";
import { createRedisBus, type RedisBusOptions } from "./redis-bus.js";

export interface LogLine {
  level: "warn" | "error" | "info";
  msg: string;
  obj: object;
}

export function captureLogger(): BusLogger & { lines: LogLine[] } {
  const lines: LogLine[] = [];
  return {
    lines,
    warn: (obj, msg) => lines.push({ level: "warn", msg, obj }),
    error: (obj, msg) => lines.push({ level: "error", msg, obj }),
    info: (obj, msg) => lines.push({ level: "info", msg, obj }),
  };
}

export const uniquePrefix = () => `test-${randomUUID().slice(0, 12)}`;

/** n ready buses on one prefix, acting as n nodes. */
export async function redisCluster(
  n: number,
  opts: Omit<RedisBusOptions, "nodeId" | "logger"> & { logger?: BusLogger },
): Promise<Bus[]> {
  const logger = opts.logger ?? captureLogger();
  const buses = Array.from({ length: n }, (_, i) => createRedisBus({ ...opts, logger, nodeId: `node-${i}` }));
  await Promise.all(buses.map((b) => whenReady(b)));
  return buses;
}
