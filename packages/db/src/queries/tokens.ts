/**
 * @module
 * Long-lived opaque tokens, stored as SHA-256 hashes (the caller hashes): refresh tokens with
 * rotation and reuse detection, and single-use emailed tokens (confirmation, email change,
 * password reset). Every lookup filters by kind, so one kind never stands in for another.
 * Expiry is judged by the database clock, the same one that wrote `expires_at`.
 */
import { and, eq, inArray, isNull, sql } from "drizzle-orm";
import type { Db } from "../client.js";
import { type TokenKind, tokens } from "../schema.js";

export type EmailTokenKind = Exclude<TokenKind, "refresh">;

const expiresIn = (ttlMs: number) => sql`clock_timestamp() + ${ttlMs} * interval '1 millisecond'`;
const live = sql`${tokens.usedAt} is null and ${tokens.revokedAt} is null and ${tokens.expiresAt} > clock_timestamp()`;

export async function insertRefreshToken(
  db: Db,
  { userId, hash, familyId, ttlMs }: { userId: string; hash: Buffer; familyId: string; ttlMs: number },
): Promise<void> {
  await db
    .insert(tokens)
    .values({ userId, kind: "refresh", tokenHash: hash, familyId, expiresAt: expiresIn(ttlMs) });
}

export type RotateResult =
  | { ok: true; userId: string; familyId: string }
  /** unknown: no such token; expired: past its time; reused: already rotated or revoked (family now revoked). */
  | { ok: false; error: "unknown" | "expired" | "reused" };

/**
 * Exchanges a refresh token for its successor in one transaction. The old token is marked used
 * by a conditional UPDATE, so of two requests racing with the same token exactly one wins; the
 * other sees a used token, which is what reuse looks like, and the whole family is revoked.
 */
export async function rotateRefreshToken(
  db: Db,
  { hash, newHash, ttlMs }: { hash: Buffer; newHash: Buffer; ttlMs: number },
): Promise<RotateResult> {
  return db.transaction(async (tx) => {
    const [used] = await tx
      .update(tokens)
      .set({ usedAt: sql`clock_timestamp()` })
      .where(and(eq(tokens.tokenHash, hash), eq(tokens.kind, "refresh"), live))
      .returning({ userId: tokens.userId, familyId: tokens.familyId });
    if (used !== undefined) {
      const familyId = used.familyId!;
      await tx.insert(tokens).values({
        userId: used.userId,
        kind: "refresh",
        tokenHash: newHash,
        familyId,
        expiresAt: expiresIn(ttlMs),
      });
      return { ok: true, userId: used.userId, familyId };
    }
    const [row] = await tx
      .select({
        familyId: tokens.familyId,
        spent: sql<boolean>`${tokens.usedAt} is not null or ${tokens.revokedAt} is not null`,
      })
      .from(tokens)
      .where(and(eq(tokens.tokenHash, hash), eq(tokens.kind, "refresh")))
      .limit(1);
    if (row === undefined) return { ok: false, error: "unknown" };
    if (!row.spent) return { ok: false, error: "expired" };
    await tx
      .update(tokens)
      .set({ revokedAt: sql`clock_timestamp()` })
      .where(and(eq(tokens.familyId, row.familyId!), isNull(tokens.revokedAt)));
    return { ok: false, error: "reused" };
  });
}

/** Revokes the user's live tokens of the given kinds (all kinds by default). Returns how many. */
export async function revokeUserTokens(
  db: Db,
  userId: string,
  kinds: readonly TokenKind[] = ["refresh", "email_confirm", "email_change", "password_reset"],
): Promise<number> {
  const rows = await db
    .update(tokens)
    .set({ revokedAt: sql`clock_timestamp()` })
    .where(
      and(
        eq(tokens.userId, userId),
        inArray(tokens.kind, [...kinds]),
        isNull(tokens.revokedAt),
        isNull(tokens.usedAt),
      ),
    )
    .returning({ id: tokens.id });
  return rows.length;
}

/**
 * A new emailed token. Earlier live tokens of the same kind are revoked: only the newest link in
 * the user's mailbox works.
 */
export async function insertEmailToken(
  db: Db,
  {
    userId,
    kind,
    hash,
    sentTo,
    ttlMs,
  }: { userId: string; kind: EmailTokenKind; hash: Buffer; sentTo: string; ttlMs: number },
): Promise<void> {
  await revokeUserTokens(db, userId, [kind]);
  await db.insert(tokens).values({ userId, kind, tokenHash: hash, sentTo, expiresAt: expiresIn(ttlMs) });
}

export interface EmailTokenOwner {
  userId: string;
  /** The address the token was mailed to. */
  sentTo: string;
}

/** Who a live token of this kind belongs to, without using it up. */
export async function peekEmailToken(
  db: Db,
  { hash, kind }: { hash: Buffer; kind: EmailTokenKind },
): Promise<EmailTokenOwner | undefined> {
  const rows = await db
    .select({ userId: tokens.userId, sentTo: tokens.sentTo })
    .from(tokens)
    .where(and(eq(tokens.tokenHash, hash), eq(tokens.kind, kind), live))
    .limit(1);
  const row = rows[0];
  return row === undefined ? undefined : { userId: row.userId, sentTo: row.sentTo ?? "" };
}

/** Uses a live token up (atomically: of two concurrent uses, one gets the owner, the other undefined). */
export async function consumeEmailToken(
  db: Db,
  { hash, kind }: { hash: Buffer; kind: EmailTokenKind },
): Promise<EmailTokenOwner | undefined> {
  const rows = await db
    .update(tokens)
    .set({ usedAt: sql`clock_timestamp()` })
    .where(and(eq(tokens.tokenHash, hash), eq(tokens.kind, kind), live))
    .returning({ userId: tokens.userId, sentTo: tokens.sentTo });
  const row = rows[0];
  return row === undefined ? undefined : { userId: row.userId, sentTo: row.sentTo ?? "" };
}
