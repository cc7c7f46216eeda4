/**
 * @module
 * The membership gate of every conversation endpoint (DESIGN §7: whatever returns messages or
 * members checks the caller belongs). Missing conversation → 404, not a member → 403.
 */
import { type Conversation, getConversation, isMember } from "@nexus/db";
import type { ApiContext } from "../context.js";
import { forbidden, notFound, type Reply } from "../http/reply.js";

export async function memberConversation(
  ctx: Pick<ApiContext, "db">,
  conversationId: string,
  userId: string,
): Promise<{ ok: true; conversation: Conversation } | { ok: false; reply: Reply }> {
  const [conversation, member] = await Promise.all([
    getConversation(ctx.db, conversationId),
    isMember(ctx.db, conversationId, userId),
  ]);
  if (conversation === undefined) return { ok: false, reply: notFound("Conversation not found") };
  if (!member) return { ok: false, reply: forbidden("Not a member of this conversation") };
  return { ok: true, conversation };
}
