import { createMetricsRegistry, parsePrometheusText, sampleSum } from "@nexus/http";
import { describe, expect, it } from "vitest";
import { registerHttpMetrics } from "./metrics.js";

describe("registerHttpMetrics", () => {
  it("records each response under its method, route pattern and status", async () => {
    const registry = createMetricsRegistry({ service: "api", node: "a1" });
    const observe = registerHttpMetrics(registry);
    observe("POST", "/auth/login", 200, 0.04);
    observe("POST", "/auth/login", 200, 0.06);
    observe("POST", "/auth/login", 401, 0.03);
    observe("GET", "/api/messages", 200, 0.003);
    const s = parsePrometheusText(await registry.metrics());
    const login200 = { method: "POST", route: "/auth/login", status: "200" };
    expect(sampleSum(s, "nexus_http_request_duration_seconds_count", login200)).toBe(2);
    expect(sampleSum(s, "nexus_http_request_duration_seconds_sum", login200)).toBeCloseTo(0.1);
    expect(sampleSum(s, "nexus_http_request_duration_seconds_bucket", { ...login200, le: "0.05" })).toBe(1);
    expect(
      sampleSum(s, "nexus_http_request_duration_seconds_count", { route: "/auth/login", status: "401" }),
    ).toBe(1);
    expect(
      sampleSum(s, "nexus_http_request_duration_seconds_bucket", {
        route: "/api/messages",
        le: "0.005",
        node: "a1",
      }),
    ).toBe(1);
  });
});
