/**
 * @module
 * End-to-end-encrypted messages (`conversation:` topics, DESIGN.md §4.5): a message group is
 * one sent message, holding one ciphertext per recipient. Who may be addressed, and changing
 * or deleting a group after it was sent. Appending is `appendMessageGroup` (messages.ts), shared
 * with plaintext chat.
 */
import { and, asc, eq, isNull, sql } from "drizzle-orm";
import type { Db } from "../client.js";
import { conversationMembers, encryptionKeys, messageGroups, messages } from "../schema.js";
import { pgTimestampToIso } from "../timestamp.js";

export interface Recipient {
  userId: string;
  /** The member has uploaded key material for this conversation. */
  hasKeys: boolean;
}

/** The current members of a conversation and whether each has uploaded keys. */
export async function conversationRecipients(db: Db, conversationId: string): Promise<Recipient[]> {
  const rows = await db
    .select({ userId: conversationMembers.userId, keyOwner: encryptionKeys.userId })
    .from(conversationMembers)
    .leftJoin(
      encryptionKeys,
      and(
        eq(encryptionKeys.conversationId, conversationMembers.conversationId),
        eq(encryptionKeys.userId, conversationMembers.userId),
      ),
    )
    .where(eq(conversationMembers.conversationId, conversationId));
  return rows.map((r) => ({ userId: r.userId, hasKeys: r.keyOwner !== null }));
}

/** One recipient's copy of a group: what that recipient alone receives. */
export interface GroupCopy {
  id: string;
  recipientId: string;
  content: unknown;
  updatedAt: string;
}

export interface StoredGroup {
  id: string;
  senderId: string;
  seq: number;
  insertedAt: string;
  updatedAt: string;
  copies: GroupCopy[];
}

/**
 * The live groups of a conversation with seq in [from, to], in seq order, with every
 * recipient's copy: what a gateway re-delivers when a broadcast went missing on the bus.
 * Plaintext (recipient-less) messages are not part of it.
 */
export async function groupsBySeq(
  db: Db,
  conversationId: string,
  from: number,
  to: number,
): Promise<StoredGroup[]> {
  const rows = await db
    .select({
      groupId: messageGroups.id,
      senderId: messageGroups.senderId,
      seq: messageGroups.seq,
      insertedAt: messageGroups.insertedAt,
      id: messages.id,
      recipientId: messages.recipientId,
      content: messages.content,
      updatedAt: messages.updatedAt,
    })
    .from(messageGroups)
    .innerJoin(messages, eq(messages.groupId, messageGroups.id))
    .where(
      and(
        eq(messageGroups.conversationId, conversationId),
        isNull(messageGroups.deletedAt),
        sql`${messageGroups.seq} between ${from} and ${to}`,
        sql`${messages.recipientId} is not null`,
      ),
    )
    .orderBy(asc(messageGroups.seq));
  const groups: StoredGroup[] = [];
  for (const r of rows) {
    let g = groups.at(-1);
    if (g?.id !== r.groupId) {
      g = {
        id: r.groupId,
        senderId: r.senderId,
        seq: r.seq,
        insertedAt: r.insertedAt,
        updatedAt: "",
        copies: [],
      };
      groups.push(g);
    }
    if (r.updatedAt > g.updatedAt) g.updatedAt = r.updatedAt;
    g.copies.push({ id: r.id, recipientId: r.recipientId!, content: r.content, updatedAt: r.updatedAt });
  }
  return groups;
}

export type GroupChangeError = "not_found" | "not_sender" | "recipients_mismatch";

export type GroupUpdate = { ok: true; group: StoredGroup } | { ok: false; error: GroupChangeError };

/** Locks a live group of the conversation for a change by its sender. */
async function lockOwnGroup(
  tx: Db,
  conversationId: string,
  groupId: string,
  senderId: string,
): Promise<{ ok: true; seq: number; insertedAt: string } | { ok: false; error: "not_found" | "not_sender" }> {
  const [g] = await tx
    .select({
      senderId: messageGroups.senderId,
      seq: messageGroups.seq,
      insertedAt: messageGroups.insertedAt,
    })
    .from(messageGroups)
    .where(
      and(
        eq(messageGroups.id, groupId),
        eq(messageGroups.conversationId, conversationId),
        isNull(messageGroups.deletedAt),
      ),
    )
    .for("update");
  if (!g) return { ok: false, error: "not_found" };
  if (g.senderId !== senderId) return { ok: false, error: "not_sender" };
  return { ok: true, seq: g.seq, insertedAt: g.insertedAt };
}

/**
 * Replaces the content of a group's copies: exactly one new content per recipient the group
 * was sent to (the members it was encrypted for then, not whoever is a member now).
 */
export async function updateMessageGroup(
  db: Db,
  {
    conversationId,
    groupId,
    senderId,
    contents,
  }: { conversationId: string; groupId: string; senderId: string; contents: ReadonlyMap<string, unknown> },
): Promise<GroupUpdate> {
  return db.transaction(async (tx): Promise<GroupUpdate> => {
    const locked = await lockOwnGroup(tx, conversationId, groupId, senderId);
    if (!locked.ok) return locked;
    const recipients = await tx
      .select({ recipientId: messages.recipientId })
      .from(messages)
      .where(eq(messages.groupId, groupId));
    const same =
      recipients.length === contents.size &&
      recipients.every((r) => r.recipientId !== null && contents.has(r.recipientId));
    if (!same) return { ok: false, error: "recipients_mismatch" };
    const json = JSON.stringify([...contents].map(([recipient_id, content]) => ({ recipient_id, content })));
    const result = await tx.execute(sql`
      with upd as (
        update ${messages} m set content = r.content, updated_at = clock_timestamp()
        from jsonb_to_recordset(${json}::jsonb) as r(recipient_id uuid, content jsonb)
        where m.group_id = ${groupId} and m.recipient_id = r.recipient_id
        returning m.id, m.recipient_id, m.content, m.updated_at
      ), grp as (
        update ${messageGroups} set updated_at = (select max(updated_at) from upd) where id = ${groupId}
      )
      select id, recipient_id, content, updated_at::text as updated_at from upd`);
    const rows = (Array.isArray(result) ? result : (result as { rows: unknown[] }).rows) as Array<{
      id: string;
      recipient_id: string;
      content: unknown;
      updated_at: string;
    }>;
    const copies = rows.map((r) => ({
      id: r.id,
      recipientId: r.recipient_id,
      content: r.content,
      updatedAt: pgTimestampToIso(r.updated_at),
    }));
    return {
      ok: true,
      group: {
        id: groupId,
        senderId,
        seq: locked.seq,
        insertedAt: locked.insertedAt,
        updatedAt: copies[0]?.updatedAt ?? locked.insertedAt,
        copies,
      },
    };
  });
}

/**
 * Deletes a group by its sender: the ciphertexts are removed, the group stays as a tombstone so
 * its seq is never handed out again and readers see the gap as a deletion.
 */
export async function deleteMessageGroup(
  db: Db,
  { conversationId, groupId, senderId }: { conversationId: string; groupId: string; senderId: string },
): Promise<{ ok: true; seq: number } | { ok: false; error: "not_found" | "not_sender" }> {
  return db.transaction(async (tx) => {
    const locked = await lockOwnGroup(tx, conversationId, groupId, senderId);
    if (!locked.ok) return locked;
    await tx.delete(messages).where(eq(messages.groupId, groupId));
    await tx
      .update(messageGroups)
      .set({ deletedAt: sql`clock_timestamp()`, updatedAt: sql`clock_timestamp()` })
      .where(eq(messageGroups.id, groupId));
    return { ok: true as const, seq: locked.seq };
  });
}
