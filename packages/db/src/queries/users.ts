/** @module User listing, newest first, keyset-paginated on (inserted_at, id). */
import { and, desc, eq, lt, or, sql } from "drizzle-orm";
import { z } from "zod";
import type { Db } from "../client.js";
import { type PageTokens, toPage } from "../page-token.js";
import { users } from "../schema.js";

export interface UserSummary {
  id: string;
  email: string;
  displayName: string;
}

// The timestamp stays a string with microseconds: truncating it would skip or repeat rows.
const cursorSchema = z.tuple([z.iso.datetime({ precision: 6 }), z.uuid()]);
const SCOPE = "users";

export type ListResult<T> =
  | { ok: true; items: T[]; pageToken: string | null }
  | { ok: false; error: "invalid_page_token" };

export async function listUsersPage(
  db: Db,
  tokens: PageTokens,
  { pageSize, pageToken }: { pageSize: number; pageToken?: string | undefined },
): Promise<ListResult<UserSummary>> {
  let after: z.infer<typeof cursorSchema> | undefined;
  if (pageToken !== undefined) {
    const decoded = tokens.decode(SCOPE, pageToken, cursorSchema);
    if (!decoded.ok) return decoded;
    after = decoded.cursor;
  }
  const rows = await db
    .select({
      id: users.id,
      email: users.email,
      displayName: users.displayName,
      insertedAt: users.insertedAt,
    })
    .from(users)
    .where(
      after
        ? or(
            lt(users.insertedAt, sql`${after[0]}::timestamptz`),
            and(eq(users.insertedAt, sql`${after[0]}::timestamptz`), lt(users.id, after[1])),
          )
        : undefined,
    )
    .orderBy(desc(users.insertedAt), desc(users.id))
    .limit(pageSize + 1);
  const page = toPage(
    rows,
    pageSize,
    (last) => [last.insertedAt, last.id],
    (c) => tokens.encode(SCOPE, c),
  );
  return {
    ok: true,
    items: page.items.map(({ id, email, displayName }) => ({ id, email, displayName })),
    pageToken: page.pageToken,
  };
}
