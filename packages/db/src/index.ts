/** @module The database: schema, connection, migrations and queries. */
export {
  createDb,
  type Db,
  type DbHandle,
  type DbOptions,
  defaultMigrationsFolder,
  type Schema,
} from "./client.js";
export {
  createPageTokens,
  PAGE_SIZE_DEFAULT,
  PAGE_SIZE_MAX,
  type PageTokenResult,
  type PageTokens,
  toPage,
} from "./page-token.js";
export {
  appendMessageGroup,
  isMember,
  listMessagesPage,
  type MessageItem,
  type NewMessage,
  type StoredMessage,
} from "./queries/messages.js";
export { type ListResult, listUsersPage, type UserSummary } from "./queries/users.js";
export * as schema from "./schema.js";
export { pgTimestampToIso } from "./timestamp.js";
export { EXTERNAL_EMAIL_DOMAIN, ensureOpenChat, userValidAfter } from "./queries/chat.js";
