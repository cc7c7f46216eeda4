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
  return db.transaction(async (tx) => {
    const [bumped] = await tx
      .update(conversations)
      .set({ lastSeq: sql`${conversations.lastSeq} + 1` })
      .where(eq(conversations.id, conversationId))
      .returning({ seq: conversations.lastSeq });
    if (!bumped) throw new Error(`conversation ${conversationId} does not exist`);
    const [group] = await tx
      .insert(messageGroups)
      .values({ conversationId, senderId, seq: bumped.seq })
      .returning({ id: messageGroups.id, insertedAt: messageGroups.insertedAt });
    const at = group!.insertedAt;
    const rows = await tx
      .insert(messages)
      .values(
        contents.map((c) => ({
          groupId: group!.id,
          recipientId: c.recipientId,
          content: c.content,
          insertedAt: at,
          updatedAt: at,
        })),
      )
      .returning();
    return {
      groupId: group!.id,
      seq: bumped.seq,
      insertedAt: at,
      messages: rows.map((r) => ({
        id: r.id,
        groupId: r.groupId,
        recipientId: r.recipientId,
        content: r.content,
        seq: bumped.seq,
        insertedAt: r.insertedAt,
        updatedAt: r.updatedAt,
      })),
    };
  });
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
