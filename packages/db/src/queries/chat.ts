/**
 * @module
 * Seed 004's open mode (CHAT_OPEN_JOIN): any authenticated user may talk in any
 * `chat:{uuid}`, and the conversation appears with its first message. Tokens there come from
 * another backend, so the sender may be unknown here: it gets a placeholder account that can
 * never log in (its address is under the reserved .invalid TLD, its password hash matches nothing).
 */
import { sql } from "drizzle-orm";
import type { Db } from "../client.js";
import { conversationMembers, conversations, profiles, users } from "../schema.js";

export const EXTERNAL_EMAIL_DOMAIN = "external.invalid";

export async function ensureOpenChat(db: Db, conversationId: string, userId: string): Promise<void> {
  await db.transaction(async (tx) => {
    const created = await tx
      .insert(users)
      .values({
        id: userId,
        email: `${userId}@${EXTERNAL_EMAIL_DOMAIN}`,
        displayName: userId,
        passwordHash: "!",
      })
      .onConflictDoNothing()
      .returning({ id: users.id });
    if (created.length > 0) await tx.insert(profiles).values({ userId }).onConflictDoNothing();
    await tx.insert(conversations).values({ id: conversationId, private: false }).onConflictDoNothing();
    await tx.insert(conversationMembers).values({ conversationId, userId }).onConflictDoNothing();
  });
}

/** Sign-out everywhere: epoch ms before which the user's access tokens are void; undefined = never. */
export async function userValidAfter(db: Db, userId: string): Promise<number | undefined> {
  const rows = await db
    .select({ at: sql<string>`${users.tokensValidAfter}::text` })
    .from(users)
    .where(sql`${users.id} = ${userId}`)
    .limit(1);
  const at = rows[0]?.at;
  if (at === undefined || at === "-infinity") return undefined;
  return Date.parse(at.replace(" ", "T").replace(/([+-]\d{2})$/, "$1:00"));
}

/** `profile.hidden`: hidden users never appear in `system:general` presence. Unknown users count as hidden. */
export async function userHidden(db: Db, userId: string): Promise<boolean> {
  const rows = await db
    .select({ hidden: profiles.hidden })
    .from(profiles)
    .where(sql`${profiles.userId} = ${userId}`)
    .limit(1);
  return rows[0]?.hidden ?? true;
}
