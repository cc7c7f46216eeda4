import { describe, expect, it } from "vitest";
import { keySlot } from "./key-slot.js";

describe("keySlot", () => {
  it("matches the cluster spec's CRC16 check value and slots Redis reports", () => {
    expect(keySlot("123456789")).toBe(0x31c3 % 16_384); // CRC16-XMODEM("123456789") = 0x31C3
    // CLUSTER KEYSLOT on redis-server 7.0
    expect(keySlot("foo")).toBe(12_182);
    expect(keySlot("nexus:t:a")).toBe(14_850);
    expect(keySlot("nexus:t:b")).toBe(2_657);
  });

  it("hashes only the first non-empty hash tag", () => {
    expect(keySlot("{user1000}.following")).toBe(keySlot("user1000"));
    expect(keySlot("foo{bar}{zap}")).toBe(keySlot("bar"));
    expect(keySlot("foo{{bar}}zap")).toBe(keySlot("{bar"));
    expect(keySlot("foo{}{bar}")).not.toBe(keySlot("bar")); // empty first tag: the whole key
    expect(keySlot("{}")).toBe(keySlot("{}"));
  });

  it("stays within 0..16383 for any string, multi-byte characters included", () => {
    for (const k of ["", "é", "🎉", "chat:ünïcode", "x".repeat(10_000)]) {
      const slot = keySlot(k);
      expect(slot).toBeGreaterThanOrEqual(0);
      expect(slot).toBeLessThan(16_384);
    }
    expect(keySlot("é")).not.toBe(keySlot("e"));
  });
});
