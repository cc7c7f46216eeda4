/**
 * @module
 * The payloads of every channel event, as zod schemas, for the AsyncAPI document: what clients
 * send (documented in input form) and what the gateway and the api send (output form), each
 * registered under the name it gets in `components.schemas`.
 *
 * `conversation:{uuid}` validates with its own schemas (channels/conversation-payloads.ts); they
 * are only registered here. The other channels validate by hand (seed 004's error texts are
 * pinned by tests), so their schemas are written here from the code, and asyncapi/channels.test.ts
 * checks them against what the real handlers accept, answer and send.
 */
import { PhoenixReason } from "@nexus/protocol";
import { z } from "zod";
import { MAX_BODY_CHARS } from "../channels/chat-channel.js";
import {
  Addressed,
  DeletedOut,
  DeleteMsgIn,
  KeysUploadedOut,
  MessageItemOut,
  NewMsgIn,
  Refusal,
  SentReply,
  UpdateMsgIn,
} from "../channels/conversation-payloads.js";

export interface SchemaMeta {
  id: string;
  description?: string;
}

/** Client → gateway (JSON Schema of the input), and gateway → client (of the output). */
export const clientSchemas = z.registry<SchemaMeta>();
export const serverSchemas = z.registry<SchemaMeta>();

function client<T extends z.ZodType>(id: string, schema: T): T {
  clientSchemas.add(schema, { id });
  return schema;
}
function server<T extends z.ZodType>(id: string, schema: T): T {
  serverSchemas.add(schema, { id });
  return schema;
}

const microseconds = () => z.string().describe("ISO 8601, UTC, microseconds: 2026-01-11T20:05:50.055142Z");

// ---- every channel -----------------------------------------------------------------------

export const JoinParams = client(
  "JoinParams",
  z.record(z.string(), z.unknown()).describe("Join params; no Nexus channel reads them yet"),
);
export const Ignored = client(
  "Ignored",
  z.record(z.string(), z.unknown()).describe("Not read (phoenix.js sends {})"),
);
export const Empty = server("Empty", z.strictObject({}));
export const UnknownEvent = server(
  "UnknownEvent",
  z.strictObject({ reason: z.literal("unknown event"), event: z.string().describe("The event as sent") }),
);
export const UnmatchedTopic = server(
  "UnmatchedTopic",
  z.strictObject({ reason: z.literal(PhoenixReason.UnmatchedTopic) }),
);
export const ChannelCrash = server(
  "ChannelCrash",
  z.strictObject({ reason: z.literal(PhoenixReason.ChannelCrash) }),
);

/** What the session itself refuses a join with, on any topic a route matches. */
const SESSION_JOIN_REFUSALS: readonly string[] = [PhoenixReason.JoinCrashed, PhoenixReason.TooManyChannels];

function joinRefusal(id: string, channelReasons: readonly string[]) {
  const [first, ...rest] = [...channelReasons, ...SESSION_JOIN_REFUSALS];
  return server(id, z.strictObject({ reason: z.enum([first!, ...rest]) }));
}

// ---- chat:{conversation_id} (seed 004) -----------------------------------------------------

export const ChatJoinRefusal = joinRefusal("ChatJoinRefusal", ["invalid topic", "unauthorized"]);

export const ChatNewMsgIn = client(
  "ChatNewMsg",
  z
    .object({
      body: z
        .string()
        .regex(/\S/)
        .max(MAX_BODY_CHARS)
        .describe(
          `Plain text with at least one non-blank character; at most ${MAX_BODY_CHARS} UTF-16 code units`,
        ),
    })
    .describe("Other keys are ignored"),
);
export const ChatNewMsgReply = server(
  "ChatNewMsgReply",
  z.strictObject({ id: z.guid().describe("The message id"), seq: z.int().positive() }),
);
export const ChatNewMsgOut = server(
  "ChatNewMsgOut",
  z.strictObject({
    id: z.guid().describe("The message id (as in GET /api/messages)"),
    content: z.strictObject({ text: z.string() }),
    sender_id: z.guid(),
    inserted_at: microseconds(),
    seq: z.int().positive().describe("Position in the conversation; messages arrive in seq order"),
  }),
);

const RESERVED_META = ["phx_ref", "phx_ref_prev", "online_at"];
const MAX_PRESENCE_FIELDS = 8;
export const ChatPresenceFieldsIn = client(
  "ChatPresenceFields",
  z
    .record(z.string(), z.union([z.string().max(256), z.number(), z.boolean()]))
    // The refinements check what the meta says in JSON Schema (zod cannot express either).
    .refine((o) => Object.keys(o).length <= MAX_PRESENCE_FIELDS)
    .refine((o) => RESERVED_META.every((k) => !Object.hasOwn(o, k)))
    .meta({ maxProperties: MAX_PRESENCE_FIELDS, propertyNames: { not: { enum: RESERVED_META } } })
    .describe(
      "Flat fields for the caller's presence meta (status, typing…): at most 8, each a boolean, a number or a string of at most 256 characters; phx_ref, phx_ref_prev and online_at are the server's. They replace the fields of the previous update_presence.",
    ),
);
export const ChatPingIn = client(
  "ChatPing",
  z.record(z.string(), z.unknown()).describe("Any JSON object (over V2, binary is echoed as binary)"),
);
export const ChatPingReply = server(
  "ChatPingReply",
  z.record(z.string(), z.unknown()).describe("The ping's payload, unchanged"),
);
export const ChatRefusal = server(
  "ChatRefusal",
  z
    .strictObject({
      reason: z.enum(["invalid_payload", "Failed to save"]),
      errors: z
        .record(z.string(), z.array(z.string()))
        .optional()
        .describe('invalid_payload: messages by field, e.g. {"body": ["must be a non-empty string"]}'),
    })
    .describe("Reply status error"),
);

export const ChatPresenceMeta = server(
  "ChatPresenceMeta",
  z
    .looseObject({
      online_at: microseconds().describe("When this channel joined; kept across updates"),
      phx_ref: z.string(),
      phx_ref_prev: z.string().optional().describe("After update_presence: the ref this meta replaces"),
    })
    .describe("Plus the fields of the user's last update_presence"),
);

// ---- conversation:{conversation_id} (seed 000, end-to-end encrypted) -----------------------

export const ConversationJoinRefusal = joinRefusal("ConversationJoinRefusal", [
  "invalid topic",
  "unauthorized",
]);
client("Addressed", Addressed);
client("ConversationNewMsg", NewMsgIn);
client("ConversationUpdateMsg", UpdateMsgIn);
client("ConversationDeleteMsg", DeleteMsgIn);
server("ConversationMessageItem", MessageItemOut);
server("ConversationSentReply", SentReply);
server("ConversationRefusal", Refusal);
server("ConversationDeleted", DeletedOut);
server("KeysUploaded", KeysUploadedOut);

export {
  DeletedOut,
  DeleteMsgIn,
  KeysUploadedOut,
  MessageItemOut,
  NewMsgIn,
  Refusal,
  SentReply,
  UpdateMsgIn,
};

// ---- user:{user_id} (published by the api) -----------------------------------------------

export const UserJoinRefusal = joinRefusal("UserJoinRefusal", ["invalid topic", "unauthorized"]);

/** The api's `Conversation` (apps/api/src/schemas.ts; a test compares the two). */
export const ConversationView = server(
  "Conversation",
  z.object({
    id: z.guid(),
    private: z.boolean(),
    alias: z.string().nullable(),
    inserted_at: z.string().describe("ISO 8601, UTC, microseconds: 2024-01-01T23:38:41.183120Z"),
    updated_at: z.string().describe("ISO 8601, UTC, microseconds: 2024-01-01T23:38:41.183120Z"),
  }),
);
/** The api's `Profile` (apps/api/src/schemas.ts, services/views.ts profileView). */
export const ProfileView = server(
  "Profile",
  z.object({
    hidden: z.boolean(),
    theme: z.enum(["day", "night"]),
    magnification: z.number().min(0.7).max(1.4),
    recents: z.array(z.string()),
  }),
);
export const ConversationAddedOut = server(
  "ConversationAdded",
  z.strictObject({ conversation: ConversationView }),
);
export const ConversationRemovedOut = server(
  "ConversationRemoved",
  z.strictObject({ conversation_id: z.guid() }),
);
export const SignedOutOut = server(
  "SignedOut",
  z.strictObject({ reason: z.enum(["signout_all", "password_changed", "password_reset"]) }),
);

// ---- system:general ------------------------------------------------------------------------

export const SystemJoinRefusal = joinRefusal("SystemJoinRefusal", []);
export const SystemPresenceMeta = server(
  "SystemPresenceMeta",
  z.strictObject({ online_at: microseconds().describe("When this channel joined"), phx_ref: z.string() }),
);
export const AnnouncementOut = server(
  "Announcement",
  z.strictObject({
    id: z.guid(),
    text: z.string().describe("1 to 2000 characters"),
    inserted_at: z.string().describe("ISO 8601, UTC, milliseconds: 2026-01-11T20:05:50.055Z"),
  }),
);

// ---- presence (PROTOCOL.md §6.1) -----------------------------------------------------------

function presenceMap<M extends z.ZodType>(meta: M) {
  return z
    .record(z.guid().describe("A user id"), z.strictObject({ metas: z.array(meta).min(1) }))
    .describe("Key = user id; one meta per channel the user has joined this topic with (one per socket)");
}
function presence(prefix: string, meta: z.ZodType) {
  const state = server(`${prefix}PresenceState`, presenceMap(meta));
  const diff = server(
    `${prefix}PresenceDiff`,
    z
      .strictObject({ joins: state, leaves: state })
      .describe(
        "Both halves always present, possibly empty. An update is one diff: the new meta in joins, the old one in leaves.",
      ),
  );
  return { state, diff };
}
export const ChatPresence = presence("Chat", ChatPresenceMeta);
export const SystemPresence = presence("System", SystemPresenceMeta);
