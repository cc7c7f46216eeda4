/**
 * @module
 * Appending and paging messages. Order is `seq`, handed out by bumping
 * conversations.last_seq: the row lock that UPDATE takes serialises writers of one
 * conversation until commit, so seqs have no gaps from races and `inserted_at`
 * (clock_timestamp(), read after the lock) never decreases along seq.
 */
import { and, desc, eq, isNull, lt, or, sql } from "drizzle-orm";
import { z } from "zod";
import type { Db } from "../client.js";
import { type PageTokens, toPage } from "../page-token.js";
import { conversationMembers, conversations, messageGroups, messages } from "../schema.js";
import { pgTimestampToIso } from "../timestamp.js";
import type { ListResult } from "./users.js";

export interface NewMessage {
  /** null: one plaintext message shared by every member (`chat:` topics). */
  recipientId: string | null;
  content: unknown;
}

export interface StoredMessage {
  id: string;
  groupId: string;
  recipientId: string | null;
  content: unknown;
  seq: number;
  insertedAt: string;
  updatedAt: string;
}

export interface MessageItem {
  id: string;
  sender: string;
  content: unknown;
  message_group: string;
  seq: number;
  inserted_at: string;
  updated_at: string;
}

export async function appendMessageGroup(
  db: Db,
  {
    conversationId,
    senderId,
    contents,
  }: { conversationId: string; senderId: string; contents: NewMessage[] },
): Promise<{ groupId: string; seq: number; insertedAt: string; messages: StoredMessage[] }> {
  if (contents.length === 0) throw new Error("a message group needs at least one message");
  // One statement, so one round trip and its own transaction (five round trips as
  // BEGIN/UPDATE/INSERT/INSERT/COMMIT set the p99 of every chat message). The UPDATE's row
  // lock still serialises writers of the conversation until the statement commits, and the
  // group's clock_timestamp() is read after that lock, so inserted_at never decreases along seq.
  const recipients = JSON.stringify(
    contents.map((c) => ({ recipient_id: c.recipientId, content: c.content })),
  );
  const result = await db.execute(sql`
    with bumped as (
      update ${conversations} set last_seq = last_seq + 1 where id = ${conversationId} returning last_seq
    ), grp as (
      insert into ${messageGroups} (conversation_id, sender_id, seq)
      select ${conversationId}, ${senderId}, last_seq from bumped
      returning id, seq, inserted_at
    ), msg as (
      insert into ${messages} (group_id, recipient_id, content, inserted_at, updated_at)
      select grp.id, r.recipient_id, r.content, grp.inserted_at, grp.inserted_at
      from grp, jsonb_to_recordset(${recipients}::jsonb) as r(recipient_id uuid, content jsonb)
      returning id, group_id, recipient_id, content, inserted_at
    )
    select msg.id, msg.group_id, msg.recipient_id, msg.content, msg.inserted_at::text as inserted_at, grp.seq::text as seq
    from msg, grp`);
  // postgres.js answers with the rows themselves, PGlite with { rows }.
  const rows = (Array.isArray(result) ? result : (result as { rows: unknown[] }).rows) as Array<{
    id: string;
    group_id: string;
    recipient_id: string | null;
    content: unknown;
    inserted_at: string;
    seq: string;
  }>;
  const first = rows[0];
  if (!first) throw new Error(`conversation ${conversationId} does not exist`);
  const seq = Number(first.seq);
  const insertedAt = pgTimestampToIso(first.inserted_at);
  // Returned in the order the caller listed the recipients.
  const byRecipient = new Map(rows.map((r) => [r.recipient_id, r]));
  return {
    groupId: first.group_id,
    seq,
    insertedAt,
    messages: contents.map((c) => {
      const r = byRecipient.get(c.recipientId)!;
      return {
        id: r.id,
        groupId: r.group_id,
        recipientId: r.recipient_id,
        content: r.content,
        seq,
        insertedAt,
        updatedAt: insertedAt,
      };
    }),
  };
}

export async function isMember(db: Db, conversationId: string, userId: string): Promise<boolean> {
  const rows = await db
    .select({ one: sql`1` })
    .from(conversationMembers)
    .where(
      and(eq(conversationMembers.conversationId, conversationId), eq(conversationMembers.userId, userId)),
    )
    .limit(1);
  return rows.length > 0;
}

const cursorSchema = z.tuple([z.number().int().positive()]);

/**
 * The caller's view of a conversation, newest first: for every live group, the message
 * addressed to the caller or to everyone. Non-members get `not_member`, never an empty page.
 */
export async function listMessagesPage(
  db: Db,
  tokens: PageTokens,
  {
    conversationId,
    userId,
    pageSize,
    pageToken,
  }: { conversationId: string; userId: string; pageSize: number; pageToken?: string | undefined },
): Promise<ListResult<MessageItem> | { ok: false; error: "not_member" }> {
  const scope = `messages:${conversationId}:${userId}`;
  let beforeSeq: number | undefined;
  if (pageToken !== undefined) {
    const decoded = tokens.decode(scope, pageToken, cursorSchema);
    if (!decoded.ok) return decoded;
    beforeSeq = decoded.cursor[0];
  }
  if (!(await isMember(db, conversationId, userId))) return { ok: false, error: "not_member" };
  const rows = await db
    .select({
      id: messages.id,
      sender: messageGroups.senderId,
      content: messages.content,
      message_group: messageGroups.id,
      seq: messageGroups.seq,
      inserted_at: messages.insertedAt,
      updated_at: messages.updatedAt,
    })
    .from(messageGroups)
    .innerJoin(
      messages,
      and(
        eq(messages.groupId, messageGroups.id),
        or(eq(messages.recipientId, userId), isNull(messages.recipientId)),
      ),
    )
    .where(
      and(
        eq(messageGroups.conversationId, conversationId),
        isNull(messageGroups.deletedAt),
        beforeSeq !== undefined ? lt(messageGroups.seq, beforeSeq) : undefined,
      ),
    )
    .orderBy(desc(messageGroups.seq))
    .limit(pageSize + 1);
  const page = toPage(
    rows,
    pageSize,
    (last) => [last.seq],
    (c) => tokens.encode(scope, c),
  );
  return { ok: true, items: page.items, pageToken: page.pageToken };
}

export interface SharedMessage {
  id: string;
  senderId: string;
  content: unknown;
  seq: number;
  insertedAt: string;
}

/**
 * The live (not deleted) plaintext messages of a conversation with seq in [from, to], in seq
 * order: what a gateway re-delivers when a `chat:` broadcast went missing on the bus.
 */
export async function sharedMessagesBySeq(
  db: Db,
  conversationId: string,
  from: number,
  to: number,
): Promise<SharedMessage[]> {
  return db
    .select({
      id: messages.id,
      senderId: messageGroups.senderId,
      content: messages.content,
      seq: messageGroups.seq,
      insertedAt: messages.insertedAt,
    })
    .from(messageGroups)
    .innerJoin(messages, and(eq(messages.groupId, messageGroups.id), isNull(messages.recipientId)))
    .where(
      and(
        eq(messageGroups.conversationId, conversationId),
        isNull(messageGroups.deletedAt),
        sql`${messageGroups.seq} between ${from} and ${to}`,
      ),
    )
    .orderBy(messageGroups.seq);
}

/** The last seq handed out in a conversation; undefined when the conversation does not exist. */
export async function conversationLastSeq(db: Db, conversationId: string): Promise<number | undefined> {
  const rows = await db
    .select({ lastSeq: conversations.lastSeq })
    .from(conversations)
    .where(eq(conversations.id, conversationId))
    .limit(1);
  return rows[0]?.lastSeq;
}
