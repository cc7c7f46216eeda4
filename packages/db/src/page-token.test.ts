import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { createPageTokens, toPage } from "./page-token.js";

const tokens = createPageTokens("unit-test-key-0123456789abcdef");
const schema = z.tuple([z.number().int()]);

describe("page tokens", () => {
  it("round-trips a cursor within its scope", () => {
    const t = tokens.encode("s", [42]);
    expect(tokens.decode("s", t, schema)).toEqual({ ok: true, cursor: [42] });
  });

  it("refuses another scope, another key, an edited body and a cursor of the wrong shape", () => {
    const t = tokens.encode("s", [42]);
    expect(tokens.decode("other", t, schema).ok).toBe(false);
    expect(createPageTokens("another-key-0123456789abcdef").decode("s", t, schema).ok).toBe(false);
    const mac = t.split(".")[1];
    expect(tokens.decode("s", `${Buffer.from("[43]").toString("base64url")}.${mac}`, schema).ok).toBe(false);
    expect(tokens.decode("s", tokens.encode("s", ["x"]), schema).ok).toBe(false);
  });

  it("never throws on arbitrary input", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 2000 }), (s) => {
        expect(tokens.decode("s", s, schema)).toEqual({ ok: false, error: "invalid_page_token" });
      }),
      { numRuns: 2000 },
    );
  });

  it("toPage keeps pageSize rows and encodes the last one's cursor only when more exist", () => {
    const enc = (c: number) => `c${c}`;
    expect(toPage([1, 2, 3], 3, (x) => x, enc)).toEqual({ items: [1, 2, 3], pageToken: null });
    expect(toPage([1, 2, 3, 4], 3, (x) => x, enc)).toEqual({ items: [1, 2, 3], pageToken: "c3" });
  });
});
