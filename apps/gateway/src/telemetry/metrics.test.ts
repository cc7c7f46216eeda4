import type { BusStats } from "@nexus/bus";
import { createMetricsRegistry, parsePrometheusText, sampleSum } from "@nexus/http";
import type { TrackerStats } from "@nexus/presence";
import { describe, expect, it } from "vitest";
import type { GatewayStats } from "../gateway.js";
import { registerGatewayMetrics } from "./metrics.js";

const gw: GatewayStats = {
  connections: 7,
  connectsTotal: 10,
  refusedTotal: 2,
  slowConsumersClosed: 1,
  droppedFrames: 5,
  fanout: { broadcasts: 40, remoteBroadcasts: 60, topics: 3, gapsFilled: 0 },
};
const bus: BusStats = {
  published: 40,
  received: 60,
  droppedOwnEcho: 0,
  publishErrors: 0,
  decodeErrors: 0,
  handlerErrors: 0,
  subscribedTopics: 4,
};
const presence = { peersUp: 2, gapResyncs: 1 } as TrackerStats;

describe("registerGatewayMetrics", () => {
  it("mirrors the node's counters at scrape time and records handler timings", async () => {
    const registry = createMetricsRegistry({ service: "gateway", node: "n1" });
    let ready = true;
    const stats = structuredClone(gw);
    const t = registerGatewayMetrics(registry, {
      gateway: () => stats,
      bus: () => bus,
      busReady: () => ready,
      presence: () => presence,
    });
    t.handledIn("chat", "new_msg", "ok", 0.004);
    t.handledIn("chat", "new_msg", "ok", 0.2);
    t.joined("chat", "error", 0.001);
    const now = parsePrometheusText(await registry.metrics());
    const v = (name: string, labels: Record<string, string> = {}) => sampleSum(now, name, labels);
    expect(now.find((x) => x.name === "nexus_gateway_connections")?.labels).toEqual({
      service: "gateway",
      node: "n1",
    });
    expect(v("nexus_gateway_connections")).toBe(7);
    expect(v("nexus_gateway_broadcasts_total", { origin: "remote" })).toBe(60);
    expect(v("nexus_gateway_broadcasts_total", { origin: "local" })).toBe(40);
    expect(v("nexus_gateway_slow_consumers_closed_total")).toBe(1);
    expect(v("nexus_gateway_connects_refused_total")).toBe(2);
    expect(v("nexus_bus_ready")).toBe(1);
    expect(v("nexus_presence_peers_up")).toBe(2);
    const newMsg = { channel: "chat", event: "new_msg", status: "ok" };
    expect(v("nexus_channel_handle_in_duration_seconds_bucket", { ...newMsg, le: "0.005" })).toBe(1);
    expect(v("nexus_channel_handle_in_duration_seconds_bucket", { ...newMsg, le: "0.25" })).toBe(2);
    expect(v("nexus_channel_handle_in_duration_seconds_count", newMsg)).toBe(2);
    expect(v("nexus_channel_handle_in_duration_seconds_sum", newMsg)).toBeCloseTo(0.204);
    expect(v("nexus_channel_join_duration_seconds_count", { channel: "chat", status: "error" })).toBe(1);
    // A later scrape shows the counters as they are then (no double counting).
    stats.connectsTotal = 11;
    stats.connections = 8;
    ready = false;
    const later = parsePrometheusText(await registry.metrics());
    expect(sampleSum(later, "nexus_gateway_connects_total")).toBe(11);
    expect(sampleSum(later, "nexus_gateway_connections")).toBe(8);
    expect(sampleSum(later, "nexus_bus_ready")).toBe(0);
    expect(sampleSum(later, "process_cpu_seconds_total")).toBeGreaterThan(0);
  });
});
