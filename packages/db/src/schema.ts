/**
 * @module
 * The whole data model (DESIGN.md §5). Integrity rules live here, in the database, so that no
 * code path (REST, socket, a future admin script) can write a row the product considers invalid.
 */
import { sql } from "drizzle-orm";
import {
  bigint,
  boolean,
  check,
  customType,
  doublePrecision,
  foreignKey,
  index,
  jsonb,
  pgTable,
  primaryKey,
  text,
  unique,
  uniqueIndex,
  uuid,
} from "drizzle-orm/pg-core";
import { timestamptz } from "./timestamp.js";

const bytea = customType<{ data: Buffer; driverData: Buffer | Uint8Array }>({
  dataType() {
    return "bytea";
  },
  fromDriver(value) {
    return Buffer.isBuffer(value) ? value : Buffer.from(value);
  },
});

const now = sql`clock_timestamp()`;
const id = () => uuid("id").primaryKey().default(sql`gen_random_uuid()`);
const timestamps = {
  insertedAt: timestamptz("inserted_at").notNull().default(now),
  updatedAt: timestamptz("updated_at").notNull().default(now),
};

export const users = pgTable(
  "users",
  {
    id: id(),
    email: text("email").notNull(),
    displayName: text("display_name").notNull(),
    passwordHash: text("password_hash").notNull(),
    emailConfirmedAt: timestamptz("email_confirmed_at"),
    /** Sign-out everywhere: access tokens issued before this instant are refused (DESIGN.md §4.6). */
    tokensValidAfter: timestamptz("tokens_valid_after").notNull().default(sql`'-infinity'`),
    ...timestamps,
  },
  (t) => [
    uniqueIndex("users_email_lower_key").on(sql`lower(${t.email})`),
    index("users_inserted_at_id_idx").on(t.insertedAt.desc(), t.id.desc()),
    check("users_email_shape", sql`position('@' in ${t.email}) > 1`),
    check("users_display_name_len", sql`char_length(${t.displayName}) between 1 and 200`),
  ],
);

export const profiles = pgTable(
  "profiles",
  {
    userId: uuid("user_id")
      .primaryKey()
      .references(() => users.id, { onDelete: "cascade" }),
    hidden: boolean("hidden").notNull().default(false),
    theme: text("theme").notNull().default("day"),
    magnification: doublePrecision("magnification").notNull().default(1.0),
    recents: text("recents").array().notNull().default(sql`'{}'::text[]`),
    updatedAt: timestamptz("updated_at").notNull().default(now),
  },
  (t) => [
    check("profiles_theme", sql`${t.theme} in ('day', 'night')`),
    check("profiles_magnification", sql`${t.magnification} between 0.7 and 1.4`),
  ],
);

export const TOKEN_KINDS = ["refresh", "email_confirm", "email_change", "password_reset"] as const;
export type TokenKind = (typeof TOKEN_KINDS)[number];

/** Every long-lived token, stored only as a SHA-256 hash of the opaque value handed out. */
export const tokens = pgTable(
  "tokens",
  {
    id: id(),
    userId: uuid("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    kind: text("kind", { enum: TOKEN_KINDS }).notNull(),
    tokenHash: bytea("token_hash").notNull(),
    /** Refresh rotation: every token descended from one login shares a family; reuse revokes the family. */
    familyId: uuid("family_id"),
    /** The address an email-confirmation or email-change token was sent to. */
    sentTo: text("sent_to"),
    expiresAt: timestamptz("expires_at").notNull(),
    usedAt: timestamptz("used_at"),
    revokedAt: timestamptz("revoked_at"),
    insertedAt: timestamptz("inserted_at").notNull().default(now),
  },
  (t) => [
    unique("tokens_token_hash_key").on(t.tokenHash),
    index("tokens_user_kind_idx").on(t.userId, t.kind),
    index("tokens_family_idx").on(t.familyId),
    check("tokens_kind", sql`${t.kind} in ('refresh', 'email_confirm', 'email_change', 'password_reset')`),
    check("tokens_refresh_family", sql`(${t.kind} = 'refresh') = (${t.familyId} is not null)`),
  ],
);

export const conversations = pgTable(
  "conversations",
  {
    id: id(),
    private: boolean("private").notNull(),
    alias: text("alias"),
    /** For private conversations, the pair of users ordered low < high: one conversation per pair. */
    pairLow: uuid("pair_low").references(() => users.id, { onDelete: "cascade" }),
    pairHigh: uuid("pair_high").references(() => users.id, { onDelete: "cascade" }),
    /** The last seq handed out; the row lock taken to bump it serialises writers per conversation. */
    lastSeq: bigint("last_seq", { mode: "number" }).notNull().default(0),
    ...timestamps,
  },
  (t) => [
    check(
      "conversations_private_pair",
      sql`(${t.private} and ${t.pairLow} is not null and ${t.pairHigh} is not null and ${t.pairLow} < ${t.pairHigh})
        or (not ${t.private} and ${t.pairLow} is null and ${t.pairHigh} is null)`,
    ),
    uniqueIndex("conversations_private_pair_key").on(t.pairLow, t.pairHigh),
  ],
);

export const conversationMembers = pgTable(
  "conversation_members",
  {
    conversationId: uuid("conversation_id")
      .notNull()
      .references(() => conversations.id, { onDelete: "cascade" }),
    userId: uuid("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    insertedAt: timestamptz("inserted_at").notNull().default(now),
  },
  (t) => [
    primaryKey({ columns: [t.conversationId, t.userId] }),
    index("conversation_members_user_idx").on(t.userId),
  ],
);

/**
 * A member's key material for one conversation, opaque to the server and encrypted at rest
 * (AES-256-GCM; the vault key id travels inside each ciphertext). Keys belong to a membership:
 * leaving the conversation removes them.
 */
export const encryptionKeys = pgTable(
  "encryption_keys",
  {
    conversationId: uuid("conversation_id").notNull(),
    userId: uuid("user_id").notNull(),
    publicKey: bytea("public_key").notNull(),
    privateKey: bytea("private_key").notNull(),
    /** Which vault key encrypted this row; lets the re-encrypt command find rows on old keys. */
    vaultKeyId: text("vault_key_id").notNull(),
    ...timestamps,
  },
  (t) => [
    primaryKey({ columns: [t.conversationId, t.userId] }),
    foreignKey({
      name: "encryption_keys_member_fk",
      columns: [t.conversationId, t.userId],
      foreignColumns: [conversationMembers.conversationId, conversationMembers.userId],
    }).onDelete("cascade"),
    index("encryption_keys_vault_key_idx").on(t.vaultKeyId),
  ],
);

/** One sent message: ordered by `seq` within its conversation; `inserted_at` never decreases along `seq`. */
export const messageGroups = pgTable(
  "message_groups",
  {
    id: id(),
    conversationId: uuid("conversation_id")
      .notNull()
      .references(() => conversations.id, { onDelete: "cascade" }),
    senderId: uuid("sender_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    seq: bigint("seq", { mode: "number" }).notNull(),
    deletedAt: timestamptz("deleted_at"),
    ...timestamps,
  },
  (t) => [
    unique("message_groups_conversation_seq_key").on(t.conversationId, t.seq),
    check("message_groups_seq_positive", sql`${t.seq} > 0`),
  ],
);

/**
 * The content of a group: one row per recipient (end-to-end encrypted conversations) or one
 * row with a null recipient shared by every member (plaintext `chat:` messages).
 */
export const messages = pgTable(
  "messages",
  {
    id: id(),
    groupId: uuid("group_id")
      .notNull()
      .references(() => messageGroups.id, { onDelete: "cascade" }),
    recipientId: uuid("recipient_id").references(() => users.id, { onDelete: "cascade" }),
    content: jsonb("content").notNull(),
    ...timestamps,
  },
  (t) => [
    unique("messages_group_recipient_key").on(t.groupId, t.recipientId).nullsNotDistinct(),
    index("messages_recipient_idx").on(t.recipientId),
  ],
);

/**
 * Transactional outbox for email: a row is written in the same transaction as the token it
 * carries, and a worker delivers it over SMTP, retrying with backoff. So a failing mail server
 * delays mail but loses none, and a rolled-back request sends none.
 */
export const outbox = pgTable(
  "outbox",
  {
    id: id(),
    /** What the worker does with the payload; only "email" so far. */
    kind: text("kind").notNull(),
    /**
     * The message, sealed by the api's vault (it carries one-time links, which must not sit in
     * the database readable); cleared once sent.
     */
    payload: bytea("payload"),
    attempts: bigint("attempts", { mode: "number" }).notNull().default(0),
    /** Due time; a worker that claims the row pushes it out by a lease, so a crashed worker's rows come back. */
    nextAttemptAt: timestamptz("next_attempt_at").notNull().default(now),
    sentAt: timestamptz("sent_at"),
    /** Given up after too many attempts; kept for inspection. */
    failedAt: timestamptz("failed_at"),
    lastError: text("last_error"),
    insertedAt: timestamptz("inserted_at").notNull().default(now),
  },
  (t) => [
    index("outbox_due_idx").on(t.nextAttemptAt).where(sql`${t.sentAt} is null and ${t.failedAt} is null`),
    check("outbox_kind", sql`${t.kind} in ('email')`),
  ],
);
