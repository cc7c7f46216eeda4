/**
 * @module
 * Sessions: an auth token (HS256 JWT, 30 minutes, what the gateway accepts) plus an opaque
 * refresh token (two weeks, stored hashed, rotated on every use; a family per login, and reuse
 * of a spent token revokes the family), and sign-out everywhere.
 *
 * Sign-out everywhere, in this order (the auth package's rule): in the transaction, revoke the
 * tokens and move `users.tokens_valid_after` to now (ms); after the commit, `set` the local
 * valid-after cache BEFORE any new token is issued (so `issue` dates new tokens after the
 * sign-out and this node refuses old ones at once), then tell the cluster.
 */

import { randomUUID } from "node:crypto";
import type { AccessTokens, ValidAfterCache } from "@nexus/auth";
import { hashOpaqueToken, isOpaqueTokenShape, newOpaqueToken } from "@nexus/auth";
import {
  type Db,
  insertRefreshToken,
  revokeUserTokens,
  rotateRefreshToken,
  setTokensValidAfter,
} from "@nexus/db";
import type { ApiEvents, SignOutReason } from "./events.js";

export const REFRESH_TOKEN_TTL_MS = 14 * 24 * 3600_000;

type TokenKinds = NonNullable<Parameters<typeof revokeUserTokens>[2]>;

export interface SessionTokens {
  auth_token: string;
  refresh_token: string;
}

export type RefreshResult =
  | ({ ok: true; userId: string } & SessionTokens)
  | { ok: false; error: "invalid" | "reused" };

export interface Sessions {
  /** A new login: a new refresh family. */
  issue(userId: string): Promise<SessionTokens>;
  refresh(token: unknown): Promise<RefreshResult>;
  /** In the caller's transaction: revoke `kinds` and void access tokens issued until now. Returns that instant. */
  revokeAll(tx: Db, userId: string, kinds?: TokenKinds): Promise<number>;
  /** After the commit of `revokeAll`. */
  announceSignOut(userId: string, atMs: number, reason: SignOutReason): void;
}

export function createSessions({
  db,
  accessTokens,
  validAfter,
  events,
}: {
  db: Db;
  accessTokens: AccessTokens;
  validAfter: ValidAfterCache;
  events: ApiEvents;
}): Sessions {
  /**
   * An access token for a fresh sign-in. The cached valid-after time is dropped first: if another
   * node signed this user out a moment ago and its bus event has not arrived yet, a stale cache
   * would date the token inside the sign-out's second and every node would refuse it. One read
   * per sign-in is nothing next to argon2.
   */
  const accessToken = async (userId: string) => {
    validAfter.invalidate(userId);
    return (await accessTokens.issue(userId)).token;
  };

  return {
    async issue(userId) {
      const refresh = newOpaqueToken();
      await insertRefreshToken(db, {
        userId,
        hash: refresh.hash,
        familyId: randomUUID(),
        ttlMs: REFRESH_TOKEN_TTL_MS,
      });
      return { auth_token: await accessToken(userId), refresh_token: refresh.token };
    },
    async refresh(token) {
      if (!isOpaqueTokenShape(token)) return { ok: false, error: "invalid" };
      const next = newOpaqueToken();
      const rotated = await rotateRefreshToken(db, {
        hash: hashOpaqueToken(token),
        newHash: next.hash,
        ttlMs: REFRESH_TOKEN_TTL_MS,
      });
      if (!rotated.ok) return { ok: false, error: rotated.error === "reused" ? "reused" : "invalid" };
      return {
        ok: true,
        userId: rotated.userId,
        auth_token: await accessToken(rotated.userId),
        refresh_token: next.token,
      };
    },
    async revokeAll(tx, userId, kinds) {
      const atMs = Date.now();
      await revokeUserTokens(tx, userId, kinds);
      await setTokensValidAfter(tx, userId, atMs);
      return atMs;
    },
    announceSignOut(userId, atMs, reason) {
      validAfter.set(userId, atMs);
      events.signedOut(userId, reason);
    },
  };
}
