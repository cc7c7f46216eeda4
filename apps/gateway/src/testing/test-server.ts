/**
 * @module
 * An in-process gateway on a free port, for tests that speak the wire protocol. Real uWS,
 * real serializers and session; the bus is in-memory (several test servers on one hub form a
 * cluster) and authentication is whatever the test passes in.
 */
import { createMemoryBus, createMemoryHub, type MemoryHub } from "@nexus/bus";
import { listen, requireNativeUws, uWS } from "@nexus/http";
import type { Router } from "../channels/router.js";
import { type Gateway, type GatewayOptions, mountGateway } from "../gateway.js";
import type { AuthResult } from "../transport/upgrade.js";

export const TEST_USER = "00000000-0000-4000-8000-000000000001";

/** Accepts `user:<uuid>` (that user) and `good` (TEST_USER); refuses anything else. */
export async function fakeAuthenticate(token: string): Promise<AuthResult> {
  if (token === "good") return { ok: true, userId: TEST_USER };
  if (token.startsWith("user:")) return { ok: true, userId: token.slice(5) };
  return { ok: false, reason: "bad token" };
}

const quiet = { info() {}, debug() {}, warn() {}, error() {} };

export interface TestServer {
  port: number;
  url: string;
  gateway: Gateway;
  close(): Promise<void>;
}

export async function startTestServer(
  opts: Partial<GatewayOptions> & { router: Router; hub?: MemoryHub; nodeId?: string },
): Promise<TestServer> {
  requireNativeUws();
  const bus = createMemoryBus({ hub: opts.hub ?? createMemoryHub(), nodeId: opts.nodeId ?? "test-node" });
  const app = uWS.App();
  const gateway = mountGateway(app, {
    bus,
    log: quiet,
    authenticate: fakeAuthenticate,
    allowedOrigins: null,
    ...opts,
  });
  const listening = await listen(app, "127.0.0.1", 0);
  return {
    port: listening.port,
    url: `ws://127.0.0.1:${listening.port}/socket`,
    gateway,
    async close() {
      await gateway.drain();
      await gateway.presence.close({ graceful: true });
      listening.close();
      await bus.close();
    },
  };
}
