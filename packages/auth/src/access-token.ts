/**
 * @module Access tokens: the HS256 JWT a client shows at socket connect (`params.token`, or the
 * `authToken` subprotocol) and as `Authorization: Bearer` on `/api/*`. The api node issues them; an
 * external backend holding the same `JWT_SECRET` may mint them too (seed 004: PyJWT, `{sub, exp?}`).
 *
 * Accepted token, in order of the checks:
 * 1. a string of at most {@link MAX_ACCESS_TOKEN_LENGTH} characters, strict compact JWS (three
 *    unpadded base64url parts, nothing else), header `alg` exactly
 *    `HS256` (jose refuses `none`, HS512, RS256… before touching the key), valid signature;
 * 2. `exp`, if present, not in the past (± clock tolerance); `nbf`, if present, not in the future;
 *    `iat`/`exp`/`nbf` finite numbers when present;
 * 3. of the access kind: header `typ`, if present, is `JWT` or `at+jwt`, and claim `token_use`, if
 *    present, is `"access"`. Seed-004 tokens carry neither, so they count as access tokens; any
 *    other JWT kind Nexus signs later MUST carry its own `token_use`, which is what keeps it from
 *    standing in for an access token (DESIGN §7);
 * 4. `exp` present when `requireExp` (JWT_REQUIRE_EXP; DESIGN §4.6);
 * 5. `sub` a UUID string (any case; the result carries it lowercased);
 * 6. not revoked by sign-out-everywhere: see {@link isRevoked}.
 * No `iss`/`aud` checks: seed 004's tokens have neither.
 */
import { randomUUID } from "node:crypto";
import type { CryptoKey } from "jose";
import { errors, jwtVerify, SignJWT } from "jose";

export type VerifyFailure =
  | "malformed"
  | "bad_signature"
  | "algorithm"
  | "expired"
  | "not_yet_valid"
  | "missing_exp"
  | "bad_subject"
  | "wrong_type"
  | "revoked";

export type VerifyResult =
  | {
      ok: true;
      /** Lowercase UUID. */
      userId: string;
      /** `iat` in epoch seconds; seed-004 tokens usually have none. */
      issuedAt: number | undefined;
      /** `exp` in epoch seconds; undefined only when `requireExp` is off. */
      expiresAt: number | undefined;
    }
  | { ok: false; reason: VerifyFailure };

export interface IssuedAccessToken {
  token: string;
  issuedAt: Date;
  expiresAt: Date;
  jti: string;
}

export interface AccessTokens {
  /** Throws only on a bug (userId not a UUID) or when the validAfter lookup fails. */
  issue(userId: string, options?: { now?: Date }): Promise<IssuedAccessToken>;
  /**
   * Bad tokens are values, never throws: `token` may be anything a client sent. The promise rejects
   * only when the `validAfter` lookup rejects (e.g. Postgres down): that is an outage, not a bad
   * token, and the caller should answer 503/500 rather than 401/403.
   */
  verify(token: unknown, options?: { now?: Date }): Promise<VerifyResult>;
}

export interface AccessTokensOptions {
  /** JWT_SECRET as configured; at least 32 bytes (RFC 7518 §3.2), like config's own check. */
  secret: string;
  /** JWT_REQUIRE_EXP: refuse tokens without `exp` (tokens Nexus issues always carry one). */
  requireExp: boolean;
  /** Seed 000: auth tokens live 30 minutes. */
  ttlSeconds?: number;
  /** Leeway for `exp`/`nbf` against clock skew between issuer and verifier. */
  clockToleranceSeconds?: number;
  /**
   * Sign-out everywhere: epoch ms before which this user's tokens are refused, or undefined.
   * Pass a {@link ValidAfterCache}'s `get` so verify does not hit Postgres per connect.
   */
  validAfter?: (userId: string) => Promise<number | undefined>;
}

/** Longer strings are refused before parsing; real tokens are ~300 characters. */
export const MAX_ACCESS_TOKEN_LENGTH = 8192;
/** The `token_use` claim of an access token. Other kinds must use other values. */
export const ACCESS_TOKEN_USE = "access";
export const DEFAULT_ACCESS_TOKEN_TTL_SECONDS = 1800;
export const DEFAULT_CLOCK_TOLERANCE_SECONDS = 5;

// Strict compact serialisation: jose's base64url decoding tolerates stray characters (a trailing
// space, padding), which would make one token valid under many spellings. The signature may be
// empty so that an `alg: none` token reaches jose and is reported as "algorithm".
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
// RFC 8725 §3.11: typ compares case-insensitively, with or without the "application/" prefix.
const ACCESS_TYPS = new Set(["jwt", "at+jwt", "application/jwt", "application/at+jwt"]);

export function isUuid(value: unknown): value is string {
  return typeof value === "string" && UUID.test(value);
}

/**
 * The sign-out rule. `iat` has one-second granularity, so a token issued in the same second as the
 * sign-out cannot be told apart from one issued just before it: it is refused. Revoked iff
 * `iat * 1000 <= validAfterMs`, or the token has no `iat` at all (it cannot prove it is newer).
 * `issue` therefore dates a new token at least one whole second after validAfter (see below).
 */
export function isRevoked(iatSeconds: number | undefined, validAfterMs: number | undefined): boolean {
  if (validAfterMs === undefined) return false;
  return iatSeconds === undefined || iatSeconds * 1000 <= validAfterMs;
}

export function createAccessTokens(options: AccessTokensOptions): AccessTokens {
  const {
    secret,
    requireExp,
    ttlSeconds = DEFAULT_ACCESS_TOKEN_TTL_SECONDS,
    clockToleranceSeconds = DEFAULT_CLOCK_TOLERANCE_SECONDS,
    validAfter,
  } = options;
  // Bugs throw at boot: config validates these too, but a test or another caller might not.
  const secretBytes = new TextEncoder().encode(typeof secret === "string" ? secret : "");
  if (secretBytes.length < 32) throw new TypeError("createAccessTokens: secret must be at least 32 bytes");
  if (!Number.isInteger(ttlSeconds) || ttlSeconds <= 0) {
    throw new TypeError(`createAccessTokens: ttlSeconds must be a positive integer, got ${ttlSeconds}`);
  }
  if (!Number.isFinite(clockToleranceSeconds) || clockToleranceSeconds < 0) {
    throw new TypeError(
      `createAccessTokens: clockToleranceSeconds must be >= 0, got ${clockToleranceSeconds}`,
    );
  }

  // Imported once: given raw bytes, jose would run importKey on every verify (hot on connect storms).
  // Non-extractable, so the secret cannot be read back out of the CryptoKey.
  let keyPromise: Promise<CryptoKey> | undefined;
  const key = () =>
    (keyPromise ??= crypto.subtle.importKey("raw", secretBytes, { name: "HMAC", hash: "SHA-256" }, false, [
      "sign",
      "verify",
    ]));

  async function issue(
    userId: string,
    { now = new Date() }: { now?: Date } = {},
  ): Promise<IssuedAccessToken> {
    if (!isUuid(userId)) throw new TypeError(`issue: expected a user UUID, got ${JSON.stringify(userId)}`);
    const sub = userId.toLowerCase();
    let iat = Math.floor(now.getTime() / 1000);
    // Right after a sign-out (same second) a plain iat would be revoked on arrival: date the token
    // at the next whole second instead. It is then up to 1 s in the future, which verify tolerates
    // (it has no iat-in-the-future check; `exp` still bounds the lifetime).
    const after = validAfter === undefined ? undefined : await validAfter(sub);
    if (after !== undefined && isRevoked(iat, after)) iat = Math.floor(after / 1000) + 1;
    const exp = iat + ttlSeconds;
    const jti = randomUUID();
    const token = await new SignJWT({ token_use: ACCESS_TOKEN_USE })
      .setProtectedHeader({ alg: "HS256", typ: "JWT" })
      .setSubject(sub)
      .setIssuedAt(iat)
      .setExpirationTime(exp)
      .setJti(jti)
      .sign(await key());
    return { token, issuedAt: new Date(iat * 1000), expiresAt: new Date(exp * 1000), jti };
  }

  async function verify(token: unknown, { now = new Date() }: { now?: Date } = {}): Promise<VerifyResult> {
    if (typeof token !== "string" || token.length > MAX_ACCESS_TOKEN_LENGTH || !COMPACT_JWS.test(token)) {
      return fail("malformed");
    }
    let verified: Awaited<ReturnType<typeof jwtVerify>>;
    try {
      verified = await jwtVerify(token, await key(), {
        algorithms: ["HS256"],
        clockTolerance: clockToleranceSeconds,
        currentDate: now,
      });
    } catch (error) {
      return fail(reasonForJoseError(error));
    }
    const { payload, protectedHeader } = verified;
    // JSON.parse turns 1e999 into Infinity, which jose takes as a number: an `exp` that never comes.
    for (const claim of ["iat", "exp", "nbf"] as const) {
      const value = payload[claim];
      if (value !== undefined && !Number.isFinite(value)) return fail("malformed");
    }
    const { typ } = protectedHeader;
    if (typ !== undefined && (typeof typ !== "string" || !ACCESS_TYPS.has(typ.toLowerCase()))) {
      return fail("wrong_type");
    }
    if (Object.hasOwn(payload, "token_use") && payload.token_use !== ACCESS_TOKEN_USE) {
      return fail("wrong_type");
    }
    if (requireExp && payload.exp === undefined) return fail("missing_exp");
    if (!isUuid(payload.sub)) return fail("bad_subject");
    const userId = payload.sub.toLowerCase();
    if (validAfter !== undefined && isRevoked(payload.iat, await validAfter(userId))) return fail("revoked");
    return { ok: true, userId, issuedAt: payload.iat, expiresAt: payload.exp };
  }

  return { issue, verify };
}

function fail(reason: VerifyFailure): VerifyResult {
  return { ok: false, reason };
}

function reasonForJoseError(error: unknown): VerifyFailure {
  // Anything jose did not classify is a bug (ours or jose's), not a verdict on the token: rethrow.
  if (!(error instanceof errors.JOSEError)) throw error;
  if (error instanceof errors.JOSEAlgNotAllowed) return "algorithm";
  if (error instanceof errors.JWSSignatureVerificationFailed) return "bad_signature";
  if (error instanceof errors.JWTExpired) return "expired";
  if (
    error instanceof errors.JWTClaimValidationFailed &&
    error.claim === "nbf" &&
    error.reason === "check_failed"
  ) {
    return "not_yet_valid";
  }
  // JWSInvalid, JWTInvalid (payload not a JSON object), JOSENotSupported (unknown `crit`),
  // JWTClaimValidationFailed (`exp` not a number…): the token is not a well-formed access token.
  return "malformed";
}
