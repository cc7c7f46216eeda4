/**
 * @module
 * Encryption at rest for key material and queued email (DESIGN §7): AES-256-GCM under a key
 * derived from VAULT_KEY, with the key id inside every ciphertext so rows written under an old
 * key still open after rotation, and associated data that binds a ciphertext to its row (a
 * private key copied into another member's row, or swapped with the public one, fails to open).
 *
 * Layout: `0x01 | len(kid) | kid (ASCII) | iv (12) | ciphertext | tag (16)`. The header is
 * authenticated too (it is part of the associated data).
 */
import { createCipheriv, createDecipheriv, createHash, hkdfSync, randomBytes } from "node:crypto";

const VERSION = 1;
const IV_BYTES = 12;
const TAG_BYTES = 16;

export interface Vault {
  /** Id of the key new ciphertexts are sealed with (stored next to them, e.g. `vault_key_id`). */
  readonly keyId: string;
  seal(plaintext: Buffer | string, associatedData: string): Buffer;
  /** Expected failures are values: an unknown key id, or bytes that do not authenticate. */
  open(
    sealed: Buffer,
    associatedData: string,
  ): { ok: true; plaintext: Buffer } | { ok: false; error: "unknown_key" | "corrupt" };
  /** The key id a ciphertext names, or undefined if it is not ours (for re-encryption sweeps). */
  keyIdOf(sealed: Buffer): string | undefined;
}

interface VaultKey {
  id: string;
  aes: Buffer;
}

function deriveKey(raw: Buffer): VaultKey {
  if (raw.length !== 32) throw new Error(`vault: expected a 32-byte key, got ${raw.length} bytes`);
  // The id names the key without revealing it: a truncated hash under its own label.
  const id = `k${createHash("sha256").update("nexus vault key id\0").update(raw).digest("hex").slice(0, 12)}`;
  const aes = Buffer.from(hkdfSync("sha256", raw, Buffer.alloc(0), "nexus vault aes-256-gcm", 32));
  return { id, aes };
}

/** `current` seals; `previous` keys (after a rotation) only open. */
export function createVault({
  current,
  previous = [],
}: {
  current: Buffer;
  previous?: readonly Buffer[];
}): Vault {
  const active = deriveKey(current);
  const keys = new Map<string, VaultKey>([[active.id, active]]);
  for (const raw of previous) {
    const k = deriveKey(raw);
    if (!keys.has(k.id)) keys.set(k.id, k);
  }

  const header = (kid: string) =>
    Buffer.concat([Buffer.from([VERSION, kid.length]), Buffer.from(kid, "ascii")]);

  return {
    keyId: active.id,
    seal(plaintext, associatedData) {
      const head = header(active.id);
      const iv = randomBytes(IV_BYTES);
      const cipher = createCipheriv("aes-256-gcm", active.aes, iv);
      cipher.setAAD(Buffer.concat([head, Buffer.from(associatedData, "utf8")]));
      const body = cipher.update(typeof plaintext === "string" ? Buffer.from(plaintext, "utf8") : plaintext);
      return Buffer.concat([head, iv, body, cipher.final(), cipher.getAuthTag()]);
    },
    open(sealed, associatedData) {
      const kid = keyIdOf(sealed);
      if (kid === undefined) return { ok: false, error: "corrupt" };
      const key = keys.get(kid);
      if (key === undefined) return { ok: false, error: "unknown_key" };
      const headLen = 2 + kid.length;
      if (sealed.length < headLen + IV_BYTES + TAG_BYTES) return { ok: false, error: "corrupt" };
      const iv = sealed.subarray(headLen, headLen + IV_BYTES);
      const tag = sealed.subarray(sealed.length - TAG_BYTES);
      const body = sealed.subarray(headLen + IV_BYTES, sealed.length - TAG_BYTES);
      try {
        const decipher = createDecipheriv("aes-256-gcm", key.aes, iv);
        decipher.setAAD(Buffer.concat([sealed.subarray(0, headLen), Buffer.from(associatedData, "utf8")]));
        decipher.setAuthTag(tag);
        return { ok: true, plaintext: Buffer.concat([decipher.update(body), decipher.final()]) };
      } catch {
        return { ok: false, error: "corrupt" };
      }
    },
    keyIdOf,
  };
}

function keyIdOf(sealed: Buffer): string | undefined {
  if (sealed.length < 2 || sealed[0] !== VERSION) return undefined;
  const len = sealed[1]!;
  if (len === 0 || sealed.length < 2 + len) return undefined;
  const kid = sealed.subarray(2, 2 + len).toString("ascii");
  return /^[\x21-\x7e]+$/.test(kid) ? kid : undefined;
}
