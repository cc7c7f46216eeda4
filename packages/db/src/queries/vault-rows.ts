/**
 * @module
 * The rows the api's vault sealed, read and rewritten for VAULT_KEY rotation (`pnpm
 * vault:reencrypt`). Reads are keyset pages (never OFFSET), so a sweep over millions of rows
 * costs the same per page, and rows left behind (ones that do not open) are stepped over
 * rather than read again. Each rewrite is a compare-and-set on the exact bytes that were read:
 * a row a writer changed in between (a member uploading new keys, the worker sending a mail)
 * is left as that writer made it.
 */
import { and, asc, eq, isNotNull, ne, sql } from "drizzle-orm";
import type { Db } from "../client.js";
import { encryptionKeys, outbox } from "../schema.js";

export interface SealedKeyRow {
  conversationId: string;
  userId: string;
  publicKey: Buffer;
  privateKey: Buffer;
  vaultKeyId: string;
}

export type KeyRowCursor = Pick<SealedKeyRow, "conversationId" | "userId">;

/** One page of `encryption_keys` rows whose `vault_key_id` is not `keyId`, in primary-key order after `after`. */
export async function encryptionKeysNotOnKey(
  db: Db,
  { keyId, after, limit }: { keyId: string; after: KeyRowCursor | undefined; limit: number },
): Promise<SealedKeyRow[]> {
  const t = encryptionKeys;
  return db
    .select({
      conversationId: t.conversationId,
      userId: t.userId,
      publicKey: t.publicKey,
      privateKey: t.privateKey,
      vaultKeyId: t.vaultKeyId,
    })
    .from(t)
    .where(
      and(
        ne(t.vaultKeyId, keyId),
        after === undefined
          ? undefined
          : sql`(${t.conversationId}, ${t.userId}) > (${after.conversationId}::uuid, ${after.userId}::uuid)`,
      ),
    )
    .orderBy(asc(t.conversationId), asc(t.userId))
    .limit(limit);
}

/**
 * Replaces a row's sealed keys only if it still holds exactly `old`'s bytes and key id.
 * `updated_at` stays: the keys themselves did not change. false = changed meanwhile (or gone).
 */
export async function resealEncryptionKeys(
  db: Db,
  { old, publicKey, privateKey, vaultKeyId }: { old: SealedKeyRow } & Omit<SealedKeyRow, keyof KeyRowCursor>,
): Promise<boolean> {
  const t = encryptionKeys;
  const rows = await db
    .update(t)
    .set({ publicKey, privateKey, vaultKeyId })
    .where(
      and(
        eq(t.conversationId, old.conversationId),
        eq(t.userId, old.userId),
        eq(t.vaultKeyId, old.vaultKeyId),
        eq(t.publicKey, old.publicKey),
        eq(t.privateKey, old.privateKey),
      ),
    )
    .returning({ userId: t.userId });
  return rows.length === 1;
}

export interface SealedOutboxRow {
  id: string;
  payload: Buffer;
}

/**
 * One page of outbox rows still holding a payload (not yet sent; given-up rows keep theirs for
 * inspection), in id order after `after`. The payload carries no key-id column: the caller
 * reads the id from the ciphertext's header.
 */
export async function sealedOutboxPage(
  db: Db,
  { after, limit }: { after: string | undefined; limit: number },
): Promise<SealedOutboxRow[]> {
  const rows = await db
    .select({ id: outbox.id, payload: outbox.payload })
    .from(outbox)
    .where(
      and(isNotNull(outbox.payload), after === undefined ? undefined : sql`${outbox.id} > ${after}::uuid`),
    )
    .orderBy(asc(outbox.id))
    .limit(limit);
  return rows.flatMap((r) => (r.payload === null ? [] : [{ id: r.id, payload: r.payload }]));
}

/** Replaces a payload only if it is still `old` (not sent and cleared meanwhile). */
export async function resealOutboxPayload(
  db: Db,
  { id, old, payload }: { id: string; old: Buffer; payload: Buffer },
): Promise<boolean> {
  const rows = await db
    .update(outbox)
    .set({ payload })
    .where(and(eq(outbox.id, id), eq(outbox.payload, old)))
    .returning({ id: outbox.id });
  return rows.length === 1;
}
