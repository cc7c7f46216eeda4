import { describe, expect, it } from "vitest";
import type { ChannelContext, ChannelHandler } from "../channels/channel.js";
import { type ChannelTelemetry, channelLabel, instrumentHandler, instrumentRoutes } from "./instrument.js";

function recorder() {
  const rows: Array<[string, ...unknown[]]> = [];
  const t: ChannelTelemetry = {
    joined: (channel, status, s) => rows.push(["joined", channel, status, s]),
    handledIn: (channel, event, status, s) => rows.push(["handledIn", channel, event, status, s]),
  };
  return { rows, t };
}

const ctx = {} as ChannelContext;

const handler: ChannelHandler<{ n: number }> = {
  perRecipient: true,
  join(topic) {
    if (topic.endsWith("crash")) throw new Error("boom");
    if (topic.endsWith("async")) return Promise.resolve({ ok: true, state: { n: 1 } });
    return topic.endsWith("no")
      ? { ok: false, reply: { reason: "unauthorized" } }
      : { ok: true, state: { n: 0 } };
  },
  afterJoin() {},
  handleIn(event, payload) {
    switch (event) {
      case "ping":
        return { reply: { status: "ok", response: payload as Record<string, never> } };
      case "new_msg":
        return new Promise((r) => setTimeout(() => r({ reply: { status: "ok", response: {} } }), 20));
      case "update_msg":
        return Promise.reject(new Error("db down"));
      case "delete_msg":
        return { noreply: true };
      case "update_presence":
        return { stop: "normal" };
      default:
        return { reply: { status: "error", response: { reason: "unknown event" } } };
    }
  },
};

describe("instrumentHandler", () => {
  it("times joins by outcome and keeps sync results sync", async () => {
    const { rows, t } = recorder();
    const h = instrumentHandler("chat", handler, t);
    expect(h.join("chat:yes", {}, ctx)).toEqual({ ok: true, state: { n: 0 } });
    expect(h.join("chat:no", {}, ctx)).toEqual({ ok: false, reply: { reason: "unauthorized" } });
    await expect(h.join("chat:async", {}, ctx)).resolves.toEqual({ ok: true, state: { n: 1 } });
    expect(() => h.join("chat:crash", {}, ctx)).toThrow("boom");
    expect(rows.map((r) => r.slice(0, 3))).toEqual([
      ["joined", "chat", "ok"],
      ["joined", "chat", "error"],
      ["joined", "chat", "ok"],
      ["joined", "chat", "crash"],
    ]);
    expect(rows.every((r) => typeof r[3] === "number" && r[3] >= 0)).toBe(true);
  });

  it("times pushes by event and outcome; results and errors pass through unchanged", async () => {
    const { rows, t } = recorder();
    const h = instrumentHandler("chat", handler, t);
    const state = { n: 0 };
    expect(h.handleIn("ping", { a: 1 }, ctx, state)).toEqual({ reply: { status: "ok", response: { a: 1 } } });
    await expect(h.handleIn("new_msg", {}, ctx, state)).resolves.toEqual({
      reply: { status: "ok", response: {} },
    });
    await expect(h.handleIn("update_msg", {}, ctx, state)).rejects.toThrow("db down");
    expect(h.handleIn("delete_msg", {}, ctx, state)).toEqual({ noreply: true });
    expect(h.handleIn("update_presence", {}, ctx, state)).toEqual({ stop: "normal" });
    expect(h.handleIn("x".repeat(200), {}, ctx, state)).toMatchObject({ reply: { status: "error" } });
    expect(rows.map((r) => r.slice(0, 4))).toEqual([
      ["handledIn", "chat", "ping", "ok"],
      ["handledIn", "chat", "new_msg", "ok"],
      ["handledIn", "chat", "update_msg", "crash"],
      ["handledIn", "chat", "delete_msg", "noreply"],
      ["handledIn", "chat", "update_presence", "stop"],
      // A client's event name never becomes a label value.
      ["handledIn", "chat", "other", "error"],
    ]);
    // The async push was measured over its whole wait, not just the call.
    expect(rows[1]![4] as number).toBeGreaterThanOrEqual(0.015);
  });

  it("keeps the handler's other members", () => {
    const h = instrumentHandler("chat", handler, recorder().t);
    expect(h.perRecipient).toBe(true);
    expect(h.afterJoin).toBe(handler.afterJoin);
  });
});

describe("instrumentRoutes", () => {
  it("labels each route by its prefix and leaves the table alone without telemetry", () => {
    const routes = { "chat:*": handler, "system:general": handler } as Record<string, ChannelHandler>;
    expect(instrumentRoutes(routes, undefined)).toBe(routes);
    const { rows, t } = recorder();
    const out = instrumentRoutes(routes, t);
    expect(Object.keys(out)).toEqual(["chat:*", "system:general"]);
    out["system:general"]!.join("system:general", {}, ctx);
    expect(rows[0]!.slice(0, 3)).toEqual(["joined", "system", "ok"]);
    expect(channelLabel("user:*")).toBe("user");
    expect(channelLabel("lobby")).toBe("lobby");
  });
});
