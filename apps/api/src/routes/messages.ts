/**
 * @module
 * GET /api/messages: a conversation's messages as the caller sees them (the ciphertext
 * addressed to them, or a plaintext chat message), newest first by seq, keyset-paginated.
 * Members only.
 */
import { getConversation, listMessagesPage, PAGE_SIZE_DEFAULT } from "@nexus/db";
import type { ApiContext } from "../context.js";
import { forbidden, notFound, ok, unprocessable } from "../http/reply.js";
import { authedRoute, type Route } from "../http/route.js";
import { MessagePage, MessagesQuery } from "../schemas.js";
import { INVALID_PAGE_TOKEN } from "./users.js";

export function messageRoutes(ctx: ApiContext): Route[] {
  const listMessages = authedRoute({
    method: "get",
    path: "/api/messages",
    query: MessagesQuery,
    doc: {
      tag: "messages",
      summary: "Page through a conversation's messages, newest first",
      description:
        "Pages are keyset-based: messages arriving while paging never shift a page, and page 500 costs what page 1 costs.",
      responses: {
        200: { description: "One page", schema: MessagePage },
        403: { description: "Not a member of the conversation" },
        404: { description: "No such conversation" },
        422: { description: "Bad conversation id or page size, or a page token not issued for this listing" },
      },
    },
    async handler({ userId, query }) {
      const page = await listMessagesPage(ctx.db, ctx.pageTokens, {
        conversationId: query.conversation_id.toLowerCase(),
        userId,
        pageSize: query.page_size ?? PAGE_SIZE_DEFAULT,
        pageToken: query.page_token,
      });
      if (!page.ok) {
        if (page.error === "invalid_page_token") return unprocessable(INVALID_PAGE_TOKEN);
        const exists = (await getConversation(ctx.db, query.conversation_id)) !== undefined;
        return exists ? forbidden("Not a member of this conversation") : notFound("Conversation not found");
      }
      return ok({ items: page.items, page_token: page.pageToken });
    },
  });
  return [listMessages];
}
