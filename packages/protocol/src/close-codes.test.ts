/** @module Tests: Close code table sanity. */
import { describe, expect, it } from "vitest";
import { CloseCode, closeCodeForDecodeError } from "./close-codes.js";

describe("close codes", () => {
  it("maps decode errors as Phoenix does (PROTOCOL.md §1)", () => {
    expect(closeCodeForDecodeError("invalid_utf8")).toBe(1007);
    expect(closeCodeForDecodeError("malformed")).toBe(1011);
  });

  it("keeps every code valid to send and distinct", () => {
    const codes = Object.values(CloseCode);
    expect(new Set(codes).size).toBe(codes.length);
    // 1004-1006 and 1015 are reserved and may not be sent; apps own 4000-4999.
    for (const c of codes)
      expect((c >= 1000 && c <= 1014 && ![1004, 1005, 1006].includes(c)) || (c >= 4000 && c <= 4999)).toBe(
        true,
      );
  });
});
