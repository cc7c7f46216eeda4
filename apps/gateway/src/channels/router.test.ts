import { describe, expect, it } from "vitest";
import type { ChannelHandler } from "./channel.js";
import { createRouter } from "./router.js";

const h = (): ChannelHandler => ({
  join: () => ({ ok: true, state: null }),
  handleIn: () => ({ noreply: true }),
});

describe("createRouter", () => {
  it("matches exact topics and prefixes, longest prefix first", () => {
    const [sys, room, admin] = [h(), h(), h()];
    const r = createRouter({ "system:general": sys, "room:*": room, "room:admin:*": admin });
    expect(r.route("system:general")).toBe(sys);
    expect(r.route("room:1")).toBe(room);
    expect(r.route("room:admin:1")).toBe(admin);
    expect(r.route("room")).toBeUndefined();
    expect(r.route("system:other")).toBeUndefined();
  });

  it("rejects a splat that is not last, and a catch-all, at build time", () => {
    expect(() => createRouter({ "room:*:x": h() })).toThrow(/splat \(\*\) must be last/);
    expect(() => createRouter({ "*": h() })).toThrow(/catch-all/);
  });
});
