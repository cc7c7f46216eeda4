/** @module Tests: UTF-8 helpers agree with TextEncoder/TextDecoder, lone surrogates included. */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { readUtf8, utf8Length, writeUtf8 } from "./utf8.js";

const encoder = new TextEncoder();
const anyString = fc.string({ unit: fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)) });

describe("utf8", () => {
  it("utf8Length matches TextEncoder, lone surrogates included", () => {
    for (const s of ["", "a", "é", "€", "😀", "\ud800", "\udc00", "\ud800a", "a\udfff\ud83d\ude00"]) {
      expect(utf8Length(s)).toBe(encoder.encode(s).length);
    }
    fc.assert(
      fc.property(fc.oneof(anyString, fc.string({ unit: "binary" })), (s) => {
        expect(utf8Length(s)).toBe(encoder.encode(s).length);
      }),
      { numRuns: 1000 },
    );
  });

  it("writeUtf8 then readUtf8 returns the string, at any offset", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary" }), fc.nat(8), (s, offset) => {
        const n = utf8Length(s);
        const out = new Uint8Array(offset + n + 3);
        expect(writeUtf8(s, out, offset, n)).toBe(offset + n);
        expect(out.subarray(offset, offset + n)).toEqual(encoder.encode(s));
        expect(readUtf8(out, offset, offset + n)).toBe(s);
      }),
    );
  });

  it("writeUtf8 fills exactly utf8Length bytes, as TextEncoder would (frames use unzeroed memory)", () => {
    fc.assert(
      fc.property(anyString, (s) => {
        const n = utf8Length(s);
        const out = new Uint8Array(n + 2).fill(0xaa);
        writeUtf8(s, out, 1, n);
        expect(out.subarray(1, n + 1)).toEqual(encoder.encode(s));
        expect([out[0], out[n + 1]]).toEqual([0xaa, 0xaa]);
      }),
      { numRuns: 1000 },
    );
  });

  it("readUtf8 rejects invalid UTF-8 with null", () => {
    expect(readUtf8(Uint8Array.of(0x61, 0xff), 0, 2)).toBeNull();
    expect(readUtf8(Uint8Array.of(0x61, 0xff), 0, 1)).toBe("a");
  });
});
