import { describe, expect, it } from "vitest";
import type { ChannelEntry } from "./channel-entry.js";
import {
  type ChannelTable,
  channelCount,
  channelList,
  deleteChannel,
  getChannel,
  setChannel,
} from "./channel-table.js";

const entry = (topic: string) => ({ topic }) as ChannelEntry;

describe("ChannelTable", () => {
  it("behaves like a Map through one, many and back to none", () => {
    let t: ChannelTable;
    const [a, b, c, a2] = [entry("a"), entry("b"), entry("c"), entry("a")];
    expect(channelCount(t)).toBe(0);
    t = setChannel(t, "a", a);
    expect([channelCount(t), getChannel(t, "a"), getChannel(t, "b")]).toEqual([1, a, undefined]);
    t = setChannel(t, "a", a2); // a duplicate join replaces in place
    expect([channelCount(t), getChannel(t, "a")]).toEqual([1, a2]);
    t = setChannel(t, "b", b);
    t = setChannel(t, "c", c);
    expect(channelCount(t)).toBe(3);
    expect(channelList(t)).toEqual([a2, b, c]);
    t = deleteChannel(t, "b");
    expect([channelCount(t), getChannel(t, "b"), getChannel(t, "c")]).toEqual([2, undefined, c]);
    t = deleteChannel(t, "a");
    t = deleteChannel(t, "c");
    expect([channelCount(t), channelList(t), t]).toEqual([0, [], undefined]);
    t = setChannel(t, "x", entry("x"));
    expect(channelCount(t)).toBe(1);
    expect(deleteChannel(t, "y")).toBe(t);
  });
});
