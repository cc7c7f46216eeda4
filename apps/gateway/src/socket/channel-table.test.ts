import { describe, expect, it } from "vitest";
import type { ChannelEntry } from "./channel-entry.js";
import { ChannelTable } from "./channel-table.js";

const entry = (topic: string) => ({ topic }) as ChannelEntry;

describe("ChannelTable", () => {
  it("behaves like a Map through one, many and back to none", () => {
    const t = new ChannelTable();
    const [a, b, c, a2] = [entry("a"), entry("b"), entry("c"), entry("a")];
    expect(t.size).toBe(0);
    t.set("a", a);
    expect([t.size, t.get("a"), t.get("b"), t.has("a")]).toEqual([1, a, undefined, true]);
    t.set("a", a2); // a duplicate join replaces in place
    expect([t.size, t.get("a")]).toEqual([1, a2]);
    t.set("b", b);
    t.set("c", c);
    expect(t.size).toBe(3);
    expect(t.values()).toEqual([a2, b, c]);
    t.delete("b");
    expect([t.size, t.get("b"), t.get("c")]).toEqual([2, undefined, c]);
    t.delete("a");
    t.delete("c");
    expect([t.size, t.values()]).toEqual([0, []]);
    t.set("x", entry("x"));
    expect(t.size).toBe(1);
    t.clear();
    expect(t.size).toBe(0);
  });
});
