/** @module @nexus/auth: access tokens (HS256 JWT), sign-out-everywhere cache, passwords (argon2id), opaque tokens. */

export {
  ACCESS_TOKEN_USE,
  type AccessTokens,
  type AccessTokensOptions,
  createAccessTokens,
  DEFAULT_ACCESS_TOKEN_TTL_SECONDS,
  DEFAULT_CLOCK_TOLERANCE_SECONDS,
  type IssuedAccessToken,
  isRevoked,
  isUuid,
  MAX_ACCESS_TOKEN_LENGTH,
  type VerifyFailure,
  type VerifyResult,
} from "./access-token.js";
export {
  hashOpaqueToken,
  isOpaqueTokenShape,
  newOpaqueToken,
  OPAQUE_TOKEN_BYTES,
  OPAQUE_TOKEN_LENGTH,
  type OpaqueToken,
  opaqueTokenHashEquals,
} from "./opaque-token.js";
export {
  DUMMY_HASH,
  dummyVerify,
  hashPassword,
  needsRehash,
  PASSWORD_HASH_PARAMS,
  PASSWORD_MAX_LENGTH,
  PASSWORD_MIN_LENGTH,
  passwordPolicy,
  verifyPassword,
} from "./password.js";
export {
  createValidAfterCache,
  type ValidAfterCache,
  type ValidAfterCacheOptions,
} from "./valid-after-cache.js";
