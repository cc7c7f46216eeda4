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
  type AccountUser,
  changeEmail,
  confirmEmail,
  createUser,
  findUserByEmail,
  findUserById,
  findUserWithProfile,
  isUniqueViolation,
  type Profile,
  type ProfilePatch,
  setPasswordHash,
  setTokensValidAfter,
  updateProfile,
} from "./queries/accounts.js";
export { EXTERNAL_EMAIL_DOMAIN, ensureOpenChat, userHidden, userValidAfter } from "./queries/chat.js";
export {
  addMembers,
  type Conversation,
  createGroupConversation,
  existingUserIds,
  findOrCreatePrivateConversation,
  findPrivateConversation,
  getConversation,
  listConversationPeers,
  listEncryptionKeys,
  listMembers,
  listUserConversations,
  removeMember,
  type SealedKeys,
  upsertEncryptionKeys,
} from "./queries/conversations.js";
export {
  conversationRecipients,
  deleteMessageGroup,
  type GroupChangeError,
  type GroupCopy,
  type GroupUpdate,
  groupsBySeq,
  type Recipient,
  type StoredGroup,
  updateMessageGroup,
} from "./queries/message-groups.js";
export {
  appendMessageGroup,
  conversationLastSeq,
  isMember,
  listMessagesPage,
  type MessageItem,
  type NewMessage,
  type SharedMessage,
  type StoredMessage,
  sharedMessagesBySeq,
} from "./queries/messages.js";
export {
  claimOutbox,
  enqueueOutbox,
  markOutboxFailed,
  markOutboxSent,
  type OutboxItem,
  pendingOutboxCount,
  pruneOutbox,
} from "./queries/outbox.js";
export {
  consumeEmailToken,
  type EmailTokenKind,
  type EmailTokenOwner,
  insertEmailToken,
  insertRefreshToken,
  peekEmailToken,
  type RotateResult,
  revokeUserTokens,
  rotateRefreshToken,
} from "./queries/tokens.js";
export { type ListResult, listUsersPage, type UserSummary } from "./queries/users.js";
export {
  encryptionKeysNotOnKey,
  type KeyRowCursor,
  resealEncryptionKeys,
  resealOutboxPayload,
  type SealedKeyRow,
  type SealedOutboxRow,
  sealedOutboxPage,
} from "./queries/vault-rows.js";
export * as schema from "./schema.js";
export { isoMicros, pgTimestampToIso } from "./timestamp.js";
