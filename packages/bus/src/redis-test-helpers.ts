/** @module Helpers for the Redis bus integration tests: clusters on a unique prefix, captured logs. */
import { randomUUID } from "node:crypto";
import { waitFor } from "@nexus/testkit";
import { expect } from "vitest";
import { broadcast, collector } from "./bus.contract.js";
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

/**
 * The outage scenario both fault suites share: `b` holds `topics`, `a` leaves 2,000 publishes
 * in flight, `outage` takes Redis (or a master) away and brings it back; then `b` must have gone
 * not-ready and ready again, logged it, and every topic must deliver again with no new subscribe.
 */
export async function expectRecoveryFrom(
  outage: () => Promise<void>,
  { a, b, topics, logger }: { a: Bus; b: Bus; topics: string[]; logger: { lines: LogLine[] } },
): Promise<void> {
  const cols = topics.map(() => collector());
  await Promise.all(topics.map((t, i) => b.subscribe(t, cols[i]!.handler)));
  const transitions: boolean[] = [];
  b.onReadyChange((r) => transitions.push(r));

  // Left in flight by the outage: lost, and must not wedge later publishes.
  for (let i = 0; i < 2_000; i++) a.publish(topics[0]!, broadcast(topics[0]!, i));
  await new Promise((resolve) => setImmediate(resolve)); // the pipeline is written
  await outage();
  await waitFor(() => a.isReady() && b.isReady(), { what: "buses ready", timeoutMs: 20_000 });
  expect(transitions[0]).toBe(false);
  expect(transitions.at(-1)).toBe(true);

  const before = cols.map((c) => c.got.length);
  for (const [i, t] of topics.entries()) a.publish(t, broadcast(t, -i));
  await Promise.all(cols.map((c, i) => c.atLeast(before[i]! + 1)));
  expect(cols.map((c) => c.got.at(-1)?.msg)).toEqual(topics.map((t, i) => broadcast(t, -i)));
  expect(logger.lines.some((l) => l.msg.includes("not ready"))).toBe(true);
}
