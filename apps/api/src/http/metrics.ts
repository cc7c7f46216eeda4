/**
 * @module
 * The api's request metrics: one histogram by method, route pattern and status, so latency and
 * error rates per endpoint come from one series family. Labels are bounded: the route is the
 * table's pattern (`/api/conversations/:id/keys`), never the requested path.
 */
import type { Registry } from "@nexus/http";
import { Histogram } from "prom-client";

export type ObserveResponse = (method: string, route: string, status: number, seconds: number) => void;

/** argon2 makes /auth/login and /auth/register take tens of ms: buckets reach well past that. */
const BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

export function registerHttpMetrics(registry: Registry): ObserveResponse {
  const histogram = new Histogram({
    name: "nexus_http_request_duration_seconds",
    help: "Time from request to response written, by method, route pattern and status.",
    labelNames: ["method", "route", "status"] as const,
    buckets: BUCKETS,
    registers: [registry],
  });
  const children = new Map<string, { observe(v: number): void }>();
  return (method, route, status, seconds) => {
    const key = `${method} ${route} ${status}`;
    let child = children.get(key);
    if (!child) {
      child = histogram.labels(method, route, String(status));
      children.set(key, child);
    }
    child.observe(seconds);
  };
}
