import { describe, expect, it } from "vitest";
import { createOriginCheck, parseOriginPattern } from "./origin.js";

describe("origin check (Phoenix check_origin with a list)", () => {
  it("PROTOCOL.md §8 case 5: //example.com", () => {
    const ok = createOriginCheck(["//example.com"]);
    expect(ok("http://notallowed.com")).toBe(false);
    expect(ok("https://example.com")).toBe(true);
    expect(ok("")).toBe(true); // no Origin header
  });

  it("compares scheme and port where the entry gives them", () => {
    const ok = createOriginCheck(["https://a.com", "//b.com:888"]);
    expect(ok("https://a.com")).toBe(true);
    expect(ok("https://a.com:443")).toBe(true);
    expect(ok("http://a.com")).toBe(false);
    expect(ok("https://a.com:8443")).toBe(false);
    expect(ok("http://b.com:888")).toBe(true);
    expect(ok("https://b.com:888")).toBe(true);
    expect(ok("http://b.com")).toBe(false);
  });

  it("wildcards match the domain and deeper subdomains only", () => {
    const ok = createOriginCheck(["//*.c.com"]);
    expect(ok("https://c.com")).toBe(true);
    expect(ok("https://x.c.com")).toBe(true);
    expect(ok("https://y.x.c.com")).toBe(true);
    expect(ok("https://x-c.com")).toBe(false);
    expect(ok("https://c.com.evil.org")).toBe(false);
  });

  it("refuses null, file:// and junk origins while the check is on", () => {
    const ok = createOriginCheck(["//example.com"]);
    for (const o of ["null", "file://", "file:///etc/passwd", "example.com", "://"])
      expect(ok(o), o).toBe(false);
  });

  it("is off when no list is configured", () => {
    expect(createOriginCheck(null)("null")).toBe(true);
  });

  it("refuses malformed entries at boot", () => {
    expect(() => parseOriginPattern("example.com")).toThrow(/ALLOWED_ORIGINS entry/);
    expect(() => createOriginCheck(["https://a.com/path"])).toThrow();
  });
});
