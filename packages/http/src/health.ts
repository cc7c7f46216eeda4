/**
 * @module
 * Kubernetes-style probes. /livez: the event loop answers (never checks dependencies, so a
 * Postgres outage does not get every pod restarted). /readyz: every named check passes, and
 * the node is not draining; 503 with the failing checks otherwise.
 */
import { guard } from "./respond.js";
import type { TemplatedApp } from "./uws.js";

export type ReadinessCheck = () => boolean | Promise<boolean>;

export interface Health {
  /** Stop reporting ready (graceful shutdown: load balancers stop sending new clients). */
  drain(): void;
}

export function mountHealth(app: TemplatedApp, checks: Record<string, ReadinessCheck>): Health {
  let draining = false;
  app.get("/livez", (res) => {
    guard(res).send(200, { status: "ok" });
  });
  app.get("/readyz", (res) => {
    const reply = guard(res);
    void (async () => {
      const results: Record<string, boolean> = {};
      await Promise.all(
        Object.entries(checks).map(async ([name, check]) => {
          try {
            results[name] = await check();
          } catch {
            results[name] = false;
          }
        }),
      );
      const ok = !draining && Object.values(results).every(Boolean);
      reply.send(ok ? 200 : 503, {
        status: ok ? "ready" : draining ? "draining" : "not_ready",
        checks: results,
      });
    })();
  });
  return {
    drain() {
      draining = true;
    },
  };
}
