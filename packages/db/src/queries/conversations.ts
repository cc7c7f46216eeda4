/**
 * @module
 * Conversations, their members and the members' key material. Private conversations exist
 * once per pair of users (the unique pair index decides races); group conversations are
 * created with their first members in one transaction. Key material arrives here already
 * sealed by the api's vault: the database only ever sees ciphertext.
 */
import { and, asc, desc, eq, inArray, sql } from "drizzle-orm";
import type { Db } from "../client.js";
import { conversationMembers, conversations, encryptionKeys, users } from "../schema.js";
import type { UserSummary } from "./users.js";

export interface Conversation {
  id: string;
  private: boolean;
  alias: string | null;
  insertedAt: string;
  updatedAt: string;
}

const conversationColumns = {
  id: conversations.id,
  private: conversations.private,
  alias: conversations.alias,
  insertedAt: conversations.insertedAt,
  updatedAt: conversations.updatedAt,
};

const userSummaryColumns = { id: users.id, email: users.email, displayName: users.displayName };

/** Low and high of a pair as Postgres orders uuids (byte order = order of lowercase canonical text). */
function pair(a: string, b: string): [string, string] {
  const [x, y] = [a.toLowerCase(), b.toLowerCase()];
  return x < y ? [x, y] : [y, x];
}

export async function getConversation(db: Db, conversationId: string): Promise<Conversation | undefined> {
  const rows = await db
    .select(conversationColumns)
    .from(conversations)
    .where(eq(conversations.id, conversationId));
  return rows[0];
}

/** The caller's conversations, newest first. */
export async function listUserConversations(db: Db, userId: string): Promise<Conversation[]> {
  return db
    .select(conversationColumns)
    .from(conversations)
    .innerJoin(conversationMembers, eq(conversationMembers.conversationId, conversations.id))
    .where(eq(conversationMembers.userId, userId))
    .orderBy(desc(conversations.insertedAt), desc(conversations.id));
}

/** Everyone who shares at least one conversation with the user (the user included, if in any). */
export async function listConversationPeers(db: Db, userId: string): Promise<UserSummary[]> {
  const mine = db
    .select({ id: conversationMembers.conversationId })
    .from(conversationMembers)
    .where(eq(conversationMembers.userId, userId));
  return db
    .selectDistinct(userSummaryColumns)
    .from(users)
    .innerJoin(conversationMembers, eq(conversationMembers.userId, users.id))
    .where(inArray(conversationMembers.conversationId, mine))
    .orderBy(asc(users.id));
}

export async function listMembers(db: Db, conversationId: string): Promise<UserSummary[]> {
  return db
    .select(userSummaryColumns)
    .from(users)
    .innerJoin(conversationMembers, eq(conversationMembers.userId, users.id))
    .where(eq(conversationMembers.conversationId, conversationId))
    .orderBy(asc(conversationMembers.insertedAt), asc(users.id));
}

/** The ids among `userIds` that belong to existing users. */
export async function existingUserIds(db: Db, userIds: readonly string[]): Promise<Set<string>> {
  if (userIds.length === 0) return new Set();
  const rows = await db
    .select({ id: users.id })
    .from(users)
    .where(inArray(users.id, [...userIds]));
  return new Set(rows.map((r) => r.id));
}

export async function findPrivateConversation(db: Db, a: string, b: string): Promise<string | undefined> {
  const [low, high] = pair(a, b);
  const rows = await db
    .select({ id: conversations.id })
    .from(conversations)
    .where(and(eq(conversations.pairLow, low), eq(conversations.pairHigh, high)))
    .limit(1);
  return rows[0]?.id;
}

/**
 * The private conversation of a pair, created with both members if it does not exist yet. Two
 * requests racing for the same pair both end with the same conversation; one reports `created`.
 */
export async function findOrCreatePrivateConversation(
  db: Db,
  a: string,
  b: string,
): Promise<{ created: boolean; conversation: Conversation }> {
  const [low, high] = pair(a, b);
  return db.transaction(async (tx) => {
    const [made] = await tx
      .insert(conversations)
      .values({ private: true, pairLow: low, pairHigh: high })
      .onConflictDoNothing()
      .returning(conversationColumns);
    if (made !== undefined) {
      await tx.insert(conversationMembers).values([
        { conversationId: made.id, userId: low },
        { conversationId: made.id, userId: high },
      ]);
      return { created: true, conversation: made };
    }
    const [existing] = await tx
      .select(conversationColumns)
      .from(conversations)
      .where(and(eq(conversations.pairLow, low), eq(conversations.pairHigh, high)));
    return { created: false, conversation: existing! };
  });
}

export async function createGroupConversation(
  db: Db,
  { memberIds, alias }: { memberIds: readonly string[]; alias: string | null },
): Promise<Conversation> {
  return db.transaction(async (tx) => {
    const [made] = await tx
      .insert(conversations)
      .values({ private: false, alias })
      .returning(conversationColumns);
    await tx
      .insert(conversationMembers)
      .values([...new Set(memberIds)].map((userId) => ({ conversationId: made!.id, userId })))
      .onConflictDoNothing();
    return made!;
  });
}

/** Adds members; returns the ids that were not members before. */
export async function addMembers(
  db: Db,
  conversationId: string,
  userIds: readonly string[],
): Promise<string[]> {
  if (userIds.length === 0) return [];
  const rows = await db
    .insert(conversationMembers)
    .values([...new Set(userIds)].map((userId) => ({ conversationId, userId })))
    .onConflictDoNothing()
    .returning({ userId: conversationMembers.userId });
  return rows.map((r) => r.userId);
}

/** Removes a member (their key material goes with the membership). False if they were not one. */
export async function removeMember(db: Db, conversationId: string, userId: string): Promise<boolean> {
  const rows = await db
    .delete(conversationMembers)
    .where(
      and(eq(conversationMembers.conversationId, conversationId), eq(conversationMembers.userId, userId)),
    )
    .returning({ userId: conversationMembers.userId });
  return rows.length > 0;
}

export interface SealedKeys {
  publicKey: Buffer;
  privateKey: Buffer;
  vaultKeyId: string;
}

/** Stores (or replaces) a member's sealed key pair. The caller has checked membership. */
export async function upsertEncryptionKeys(
  db: Db,
  { conversationId, userId, keys }: { conversationId: string; userId: string; keys: SealedKeys },
): Promise<void> {
  await db
    .insert(encryptionKeys)
    .values({ conversationId, userId, ...keys })
    .onConflictDoUpdate({
      target: [encryptionKeys.conversationId, encryptionKeys.userId],
      set: { ...keys, updatedAt: sql`clock_timestamp()` },
    });
}

export async function listEncryptionKeys(
  db: Db,
  conversationId: string,
): Promise<Array<SealedKeys & { userId: string }>> {
  return db
    .select({
      userId: encryptionKeys.userId,
      publicKey: encryptionKeys.publicKey,
      privateKey: encryptionKeys.privateKey,
      vaultKeyId: encryptionKeys.vaultKeyId,
    })
    .from(encryptionKeys)
    .where(eq(encryptionKeys.conversationId, conversationId))
    .orderBy(asc(encryptionKeys.insertedAt), asc(encryptionKeys.userId));
}
