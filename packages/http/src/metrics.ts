/**
 * @module
 * Prometheus metrics (prom-client): one registry per server process, with Node's default
 * process metrics (CPU, memory, event-loop delay, GC) and a `node` label so a scrape of many
 * pods stays apart. Served at `GET /metrics` in the text exposition format. The endpoint is
 * for the cluster's monitoring, like /stats: the shipped Ingress does not route it.
 */
import { collectDefaultMetrics, Registry } from "prom-client";
import { statusLine } from "./respond.js";
import type { TemplatedApp } from "./uws.js";

export type { Registry } from "prom-client";

export function createMetricsRegistry(labels: { service: string; node: string }): Registry {
  const registry = new Registry();
  registry.setDefaultLabels(labels);
  collectDefaultMetrics({ register: registry });
  return registry;
}

export function mountMetrics(app: TemplatedApp, registry: Registry, path = "/metrics"): void {
  app.get(path, (res) => {
    let aborted = false;
    res.onAborted(() => {
      aborted = true;
    });
    const send = (status: number, type: string, body: string) => {
      if (aborted) return;
      res.cork(() => {
        res.writeStatus(statusLine(status)).writeHeader("content-type", type).end(body);
      });
    };
    registry.metrics().then(
      (text) => send(200, registry.contentType, text),
      (e: Error) => send(500, "text/plain; charset=utf-8", `metrics failed: ${e.message}\n`),
    );
  });
}
