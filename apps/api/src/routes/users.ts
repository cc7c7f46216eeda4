/** @module GET /api/users: every user, newest first, keyset-paginated (seed 000, DESIGN §4.6). */
import { listUsersPage, PAGE_SIZE_DEFAULT } from "@nexus/db";
import type { ApiContext } from "../context.js";
import { ok, unprocessable } from "../http/reply.js";
import { authedRoute, type Route } from "../http/route.js";
import { UserPage, UsersQuery } from "../schemas.js";
import { userSummaryView } from "../services/views.js";

export const INVALID_PAGE_TOKEN = { page_token: ["is invalid"] };

export function userRoutes(ctx: ApiContext): Route[] {
  const listUsers = authedRoute({
    method: "get",
    path: "/api/users",
    query: UsersQuery,
    doc: {
      tag: "users",
      summary: "List users, newest first",
      responses: {
        200: { description: "One page", schema: UserPage },
        422: { description: "Bad page size, or a page token that is not one of ours" },
      },
    },
    async handler({ query }) {
      const page = await listUsersPage(ctx.db, ctx.pageTokens, {
        pageSize: query.page_size ?? PAGE_SIZE_DEFAULT,
        pageToken: query.page_token,
      });
      if (!page.ok) return unprocessable(INVALID_PAGE_TOKEN);
      return ok({ items: page.items.map(userSummaryView), page_token: page.pageToken });
    },
  });
  return [listUsers];
}
