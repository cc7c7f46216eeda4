/**
 * @module
 * Rows → the JSON shapes of seed 000 (snake_case, `display_name`, profile fields flattened
 * into `user`).
 */
import {
  type AccountUser,
  type Conversation,
  type Db,
  findUserWithProfile,
  listConversationPeers,
  listUserConversations,
  type Profile,
  type UserSummary,
} from "@nexus/db";
import type { SessionTokens } from "./sessions.js";

export const userSummaryView = (u: Pick<AccountUser, "id" | "email" | "displayName"> | UserSummary) => ({
  id: u.id,
  email: u.email,
  display_name: u.displayName,
});

export const profileView = (p: Profile) => ({
  hidden: p.hidden,
  theme: p.theme,
  magnification: p.magnification,
  recents: p.recents,
});

export const conversationView = (c: Conversation) => ({
  id: c.id,
  private: c.private,
  alias: c.alias,
  inserted_at: c.insertedAt,
  updated_at: c.updatedAt,
});

/** What register, login and refresh answer: the user, their conversations and peers, the tokens. */
export async function authView(db: Db, userId: string, tokens: SessionTokens) {
  const [account, conversations, users] = await Promise.all([
    findUserWithProfile(db, userId),
    listUserConversations(db, userId),
    listConversationPeers(db, userId),
  ]);
  if (account === undefined) throw new Error(`user ${userId} vanished while signing in`);
  return {
    user: { ...userSummaryView(account.user), ...profileView(account.profile) },
    conversations: conversations.map(conversationView),
    users: users.map(userSummaryView),
    auth_token: tokens.auth_token,
    refresh_token: tokens.refresh_token,
  };
}
