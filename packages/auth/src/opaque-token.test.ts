/** @module Tests: opaque tokens (shape, entropy, hashing, comparison). */
import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import {
  hashOpaqueToken,
  isOpaqueTokenShape,
  newOpaqueToken,
  OPAQUE_TOKEN_LENGTH,
  opaqueTokenHashEquals,
} from "./opaque-token.js";

describe("opaque tokens", () => {
  it("are 43 base64url characters (32 random bytes), like seed 000's refresh tokens", () => {
    const { token } = newOpaqueToken();
    expect(token).toHaveLength(OPAQUE_TOKEN_LENGTH);
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(Buffer.from(token, "base64url")).toHaveLength(32);
    expect(isOpaqueTokenShape("JOebHW8SWnSchOmVwhDJKafyWhCuYRV1CidfR3PwsgQ")).toBe(true); // seed 000's example
  });

  it("come with the SHA-256 of the token, which hashOpaqueToken reproduces", () => {
    const { token, hash } = newOpaqueToken();
    expect(hash).toHaveLength(32);
    expect(hash.equals(createHash("sha256").update(token).digest())).toBe(true);
    expect(hashOpaqueToken(token).equals(hash)).toBe(true);
  });

  it("do not repeat", () => {
    const seen = new Set(Array.from({ length: 1000 }, () => newOpaqueToken().token));
    expect(seen.size).toBe(1000);
  });

  it.each([
    undefined,
    null,
    42,
    "",
    "short",
    `${"a".repeat(43)}=`,
    "a".repeat(44),
    `${"a".repeat(42)}+`,
    `${"a".repeat(42)}\n`,
  ])("isOpaqueTokenShape(%j) is false", (value) => {
    expect(isOpaqueTokenShape(value)).toBe(false);
  });

  it("opaqueTokenHashEquals compares by value, and is false on different lengths instead of throwing", () => {
    const { hash } = newOpaqueToken();
    expect(opaqueTokenHashEquals(hash, Buffer.from(hash))).toBe(true);
    expect(opaqueTokenHashEquals(hash, newOpaqueToken().hash)).toBe(false);
    expect(opaqueTokenHashEquals(hash, hash.subarray(0, 31))).toBe(false);
  });
});
