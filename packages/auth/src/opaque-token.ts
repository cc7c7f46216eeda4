/**
 * @module Opaque tokens: refresh, email confirmation, email change and password reset (seed 000).
 * 256 random bits, base64url without padding (43 characters, the shape of seed 000's refresh
 * tokens). Only the SHA-256 of a token is stored, so a leaked `tokens` table yields nothing usable.
 *
 * Why a plain SHA-256 and not argon2: the token carries 256 bits of entropy, so there is nothing to
 * brute-force and no need for a slow hash or a salt; and a deterministic hash lets the api find the
 * row with an indexed equality lookup on the hash column. That lookup's timing can only reveal
 * bits of the hash, never of the token, so no constant-time comparison is needed on that path.
 * Which kind a token is (refresh, reset…) lives in its row, and the api must check it there: the
 * token string itself does not say, so a reset token cannot stand in for a refresh token only if
 * every lookup filters by kind.
 */
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";

export const OPAQUE_TOKEN_BYTES = 32;
/** base64url of 32 bytes, unpadded. */
export const OPAQUE_TOKEN_LENGTH = 43;

const SHAPE = /^[A-Za-z0-9_-]{43}$/;

export interface OpaqueToken {
  /** Give this to the client; never store or log it. */
  token: string;
  /** Store this (32 bytes). */
  hash: Buffer;
}

export function newOpaqueToken(): OpaqueToken {
  const token = randomBytes(OPAQUE_TOKEN_BYTES).toString("base64url");
  return { token, hash: hashOpaqueToken(token) };
}

export function hashOpaqueToken(token: string): Buffer {
  return createHash("sha256").update(token, "utf8").digest();
}

/**
 * Cheap pre-check before touching the database: anything a client sends that cannot be one of our
 * tokens is refused as a value (the api answers as for an unknown token).
 */
export function isOpaqueTokenShape(value: unknown): value is string {
  return typeof value === "string" && SHAPE.test(value);
}

/** Constant-time equality of two hashes (false on different lengths), for comparisons outside SQL. */
export function opaqueTokenHashEquals(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}
