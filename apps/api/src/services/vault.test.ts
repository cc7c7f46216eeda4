/** The vault: AES-256-GCM with the key id inside, associated data binding, rotation. */
import { randomBytes } from "node:crypto";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { createVault } from "./vault.js";

const K1 = randomBytes(32);
const K2 = randomBytes(32);

describe("vault", () => {
  it("round-trips any bytes under the same associated data", () => {
    const vault = createVault({ current: K1 });
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2048 }), fc.string(), (bytes, ad) => {
        const sealed = vault.seal(Buffer.from(bytes), ad);
        const opened = vault.open(sealed, ad);
        expect(opened.ok && Buffer.compare(opened.plaintext, Buffer.from(bytes))).toBe(0);
      }),
    );
  });

  it("carries the key id, and never the same ciphertext twice", () => {
    const vault = createVault({ current: K1 });
    const a = vault.seal("secret", "row");
    const b = vault.seal("secret", "row");
    expect(a.equals(b)).toBe(false);
    expect(vault.keyIdOf(a)).toBe(vault.keyId);
    expect(vault.keyId).toMatch(/^k[0-9a-f]{12}$/);
    expect(a.toString("latin1")).not.toContain("secret");
  });

  it("refuses other associated data, any flipped bit, truncation and garbage", () => {
    const vault = createVault({ current: K1 });
    const sealed = vault.seal("private key", "encryption_keys:c:u:private");
    expect(vault.open(sealed, "encryption_keys:c:u:public")).toEqual({ ok: false, error: "corrupt" });
    expect(vault.open(sealed, "encryption_keys:c:other:private")).toEqual({ ok: false, error: "corrupt" });
    for (let i = 0; i < sealed.length; i++) {
      const bad = Buffer.from(sealed);
      bad[i]! ^= 1;
      expect(vault.open(bad, "encryption_keys:c:u:private").ok).toBe(false);
    }
    expect(vault.open(sealed.subarray(0, sealed.length - 1), "encryption_keys:c:u:private").ok).toBe(false);
    expect(vault.open(Buffer.alloc(0), "x")).toEqual({ ok: false, error: "corrupt" });
    expect(vault.open(Buffer.from("garbage"), "x")).toEqual({ ok: false, error: "corrupt" });
  });

  it("after rotation, old rows still open and new ones use the new key; an unknown key is named", () => {
    const old = createVault({ current: K1 });
    const sealedOld = old.seal("v1", "ad");
    const rotated = createVault({ current: K2, previous: [K1] });
    expect(rotated.keyId).not.toBe(old.keyId);
    const opened = rotated.open(sealedOld, "ad");
    expect(opened.ok && opened.plaintext.toString()).toBe("v1");
    expect(rotated.keyIdOf(rotated.seal("v2", "ad"))).toBe(rotated.keyId);
    expect(createVault({ current: K2 }).open(sealedOld, "ad")).toEqual({ ok: false, error: "unknown_key" });
  });

  it("refuses keys that are not 32 bytes", () => {
    expect(() => createVault({ current: randomBytes(16) })).toThrow(/32-byte/);
  });
});
