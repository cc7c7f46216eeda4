/**
 * @module
 * Every Nexus topic and its events, as the channel handlers implement them: the table the
 * AsyncAPI document is built from (document.ts adds what the Phoenix protocol gives every
 * topic: join, leave, close, error, unknown events). Payloads are the zod schemas of
 * payloads.ts; the prose says what the code does, and asyncapi/channels.test.ts drives the real
 * handlers to check the table against them.
 */
import { SYSTEM_GENERAL_TOPIC } from "@nexus/protocol";
import type { z } from "zod";
import { MAX_BODY_CHARS } from "../channels/chat-channel.js";
import {
  AnnouncementOut,
  ChatJoinRefusal,
  ChatNewMsgIn,
  ChatNewMsgOut,
  ChatNewMsgReply,
  ChatPingIn,
  ChatPingReply,
  ChatPresence,
  ChatPresenceFieldsIn,
  ChatRefusal,
  ConversationAddedOut,
  ConversationJoinRefusal,
  ConversationRemovedOut,
  DeletedOut,
  DeleteMsgIn,
  Empty,
  KeysUploadedOut,
  MessageItemOut,
  NewMsgIn,
  ProfileView,
  Refusal,
  SentReply,
  SignedOutOut,
  SystemJoinRefusal,
  SystemPresence,
  UpdateMsgIn,
  UserJoinRefusal,
} from "./payloads.js";

/** An event a client sends on a joined topic; the gateway answers it with a phx_reply. */
export interface ClientEvent {
  event: string;
  summary: string;
  description: string;
  payload: z.ZodType;
  /** `response` of the reply with status "ok". */
  ok: z.ZodType;
  /** `response` of the reply with status "error". */
  error: z.ZodType;
}

/** An event the gateway sends on a topic. */
export interface ServerEvent {
  event: string;
  summary: string;
  description: string;
  payload: z.ZodType;
  /** push: to one socket, with the channel's join_ref; broadcast: to every subscriber, join_ref null. */
  delivery: "push" | "broadcast";
}

export interface TopicDoc {
  /** The channel's key in the document. */
  id: string;
  /** AsyncAPI channel address: the topic, with `{parameters}`. */
  address: string;
  /** The router pattern serving it (node.ts). */
  route: string;
  /** A topic the route serves, for tests. */
  example: string;
  title: string;
  description: string;
  parameters: Record<string, string>;
  joinRefusal: z.ZodType;
  clientEvents: ClientEvent[];
  serverEvents: ServerEvent[];
}

const UUID_EXAMPLE = "5b2ec3b4-2f7c-4c1e-9a57-0e3a4f6f6c11";

const REMOVED_MEMBER =
  "A member removed from the conversation (DELETE /api/conversations/{id}/members/{user_id}) gets `phx_close` here at once, on whichever node holds the socket.";

const chat: TopicDoc = {
  id: "chat",
  address: "chat:{conversation_id}",
  route: "chat:*",
  example: `chat:${UUID_EXAMPLE}`,
  title: "Plaintext chat room (seed 004)",
  description: [
    "Members of the conversation only; with `CHAT_OPEN_JOIN=true`, any valid token may join any `chat:{uuid}` (seed 004's open mode), and the first message creates the conversation and the sender's membership (and a placeholder account for a sender Nexus does not know).",
    "After the join reply the channel pushes `presence_state` (everyone present, cluster-wide), then tracks the caller (key = user id, meta `{online_at}`), which every subscriber, the caller included, sees as a `presence_diff`.",
    REMOVED_MEMBER,
  ].join("\n\n"),
  parameters: {
    conversation_id:
      "A conversation UUID, in either case. Frames carry the topic as the client spelled it, and broadcasts reach only sockets joined with the same spelling.",
  },
  joinRefusal: ChatJoinRefusal,
  clientEvents: [
    {
      event: "new_msg",
      summary: "Send a message",
      description: `The body is validated (a string with a non-blank character, at most ${MAX_BODY_CHARS} characters), stored as the conversation's next \`seq\`, answered, and then broadcast as \`new_msg\` to every subscriber on every node, the sender included. Errors: \`invalid_payload\` with \`errors.body\`; \`Failed to save\` when the write fails (nothing is broadcast).`,
      payload: ChatNewMsgIn,
      ok: ChatNewMsgReply,
      error: ChatRefusal,
    },
    {
      event: "update_presence",
      summary: "Set fields of the caller's presence meta",
      description:
        "One `presence_diff` for everyone: the new meta (new `phx_ref`, `phx_ref_prev` naming the old one, `online_at` kept) in joins, the old one in leaves. Errors: `invalid_payload` with `errors.payload`.",
      payload: ChatPresenceFieldsIn,
      ok: Empty,
      error: ChatRefusal,
    },
    {
      event: "ping",
      summary: "Echo",
      description:
        "Answers ok with the payload unchanged. Errors: `invalid_payload` with `errors.payload` when the payload is not an object.",
      payload: ChatPingIn,
      ok: ChatPingReply,
      error: ChatRefusal,
    },
  ],
  serverEvents: [
    {
      event: "new_msg",
      summary: "A message was sent",
      description:
        "To every subscriber, on every node, in `seq` order (a broadcast lost between nodes is read back from Postgres). `id` is the message id of `GET /api/messages`, where `content` is the same `{text}`.",
      payload: ChatNewMsgOut,
      delivery: "broadcast",
    },
    {
      event: "presence_state",
      summary: "Everyone present, cluster-wide",
      description: "Pushed once after every successful join, after the join reply.",
      payload: ChatPresence.state,
      delivery: "push",
    },
    {
      event: "presence_diff",
      summary: "Who joined and who left",
      description:
        "One per change, in the same order for every subscriber. A user with several sockets has several metas.",
      payload: ChatPresence.diff,
      delivery: "broadcast",
    },
  ],
};

const conversation: TopicDoc = {
  id: "conversation",
  address: "conversation:{conversation_id}",
  route: "conversation:*",
  example: `conversation:${UUID_EXAMPLE}`,
  title: "End-to-end encrypted conversation (seed 000)",
  description: [
    "Members of the conversation only. The server routes and stores ciphertext it cannot read: a message is one ciphertext per current member, sender included, stored as a message group (one `seq`) with one message per recipient, and each member receives only the copy addressed to them. Nothing can be sent until every member has uploaded keys (`PUT /api/conversations/{id}/keys`). Only the sender may update or delete a group.",
    REMOVED_MEMBER,
  ].join("\n\n"),
  parameters: {
    conversation_id:
      "A conversation UUID in lowercase (any other spelling is refused with `invalid topic`: the api publishes on the lowercase topic).",
  },
  joinRefusal: ConversationJoinRefusal,
  clientEvents: [
    {
      event: "new_msg",
      summary: "Send one ciphertext per member",
      description:
        "Exactly one entry per current member (read from Postgres at send time), sender included. On success each member gets their own `new_msg`. Errors: `invalid_payload` (with `errors` by field path, e.g. `messages.0.content`), `keys_missing` (with `user_ids`: members without keys), `recipients_mismatch` (with `missing` and `unexpected`), `Failed to save`.",
      payload: NewMsgIn,
      ok: SentReply,
      error: Refusal,
    },
    {
      event: "update_msg",
      summary: "Replace the ciphertexts of a group (sender only)",
      description:
        "One new ciphertext per recipient the group was sent to (its members then, not now). Each of them gets `update_msg`. Errors: `invalid_payload`, `not_found` (no such live group in this conversation), `not_sender`, `recipients_mismatch`, `Failed to save`.",
      payload: UpdateMsgIn,
      ok: SentReply,
      error: Refusal,
    },
    {
      event: "delete_msg",
      summary: "Delete a group (sender only)",
      description:
        "The ciphertexts are removed; the group stays as a tombstone, so its `seq` is never reused. Every subscriber gets `delete_msg`. Errors: `invalid_payload`, `not_found`, `not_sender`, `Failed to save`.",
      payload: DeleteMsgIn,
      ok: SentReply,
      error: Refusal,
    },
  ],
  serverEvents: [
    {
      event: "new_msg",
      summary: "A message, as this member's copy",
      description:
        "Each member receives only the ciphertext addressed to them, in the item shape of `GET /api/messages` (with `seq`), in `seq` order.",
      payload: MessageItemOut,
      delivery: "broadcast",
    },
    {
      event: "update_msg",
      summary: "A message changed, as this member's copy",
      description: "To each recipient of the group, their own new copy.",
      payload: MessageItemOut,
      delivery: "broadcast",
    },
    {
      event: "delete_msg",
      summary: "A message group was deleted",
      description: "To every subscriber.",
      payload: DeletedOut,
      delivery: "broadcast",
    },
    {
      event: "keys_uploaded",
      summary: "A member uploaded keys",
      description: "Published by the api after `PUT /api/conversations/{id}/keys`, to every subscriber.",
      payload: KeysUploadedOut,
      delivery: "broadcast",
    },
  ],
};

const user: TopicDoc = {
  id: "user",
  address: "user:{user_id}",
  route: "user:*",
  example: `user:${UUID_EXAMPLE}`,
  title: "Events about the signed-in user",
  description:
    "Only the user themself may join. The api publishes every event here; clients send nothing (any event is answered `unknown event`).",
  parameters: {
    user_id:
      "The signed-in user's own id (the token's `sub`) in lowercase; another user's id, or the own id in another case, is refused with `unauthorized`.",
  },
  joinRefusal: UserJoinRefusal,
  clientEvents: [],
  serverEvents: [
    {
      event: "conversation_added",
      summary: "The user became a member of a conversation",
      description:
        "At creation (`POST /api/conversations`) or later (`POST /api/conversations/{id}/members`); not sent to the member who made the change.",
      payload: ConversationAddedOut,
      delivery: "broadcast",
    },
    {
      event: "conversation_removed",
      summary: "The user was removed from a conversation",
      description:
        "`DELETE /api/conversations/{id}/members/{user_id}` by another member; a member who leaves gets nothing. Either way the user's channels on that conversation's topics end with `phx_close`.",
      payload: ConversationRemovedOut,
      delivery: "broadcast",
    },
    {
      event: "profile_updated",
      summary: "The user's profile changed",
      description: "`PATCH /api/profile`: the whole profile after the change, to every socket of the user.",
      payload: ProfileView,
      delivery: "broadcast",
    },
    {
      event: "signed_out",
      summary: "Every session of the user ended",
      description:
        "Sign-out everywhere (`POST /api/signout_all`), a password change or a password reset. Every socket of the user is then closed with 1001, on every node, and reconnecting with an access token issued before this moment is refused (HTTP 403).",
      payload: SignedOutOut,
      delivery: "broadcast",
    },
  ],
};

const system: TopicDoc = {
  id: "system",
  address: SYSTEM_GENERAL_TOPIC,
  route: SYSTEM_GENERAL_TOPIC,
  example: SYSTEM_GENERAL_TOPIC,
  title: "Everyone signed in",
  description: [
    "Any signed-in user may join. After the join reply the channel pushes `presence_state`, then tracks the caller (key = user id, meta `{online_at}`) unless their profile is hidden: hidden users (and users without a profile) never appear. Setting `hidden` through `PATCH /api/profile` makes the user leave or appear at once, on every node (one `presence_diff`).",
    "Clients send nothing here (any event is answered `unknown event`).",
  ].join("\n\n"),
  parameters: {},
  joinRefusal: SystemJoinRefusal,
  clientEvents: [],
  serverEvents: [
    {
      event: "presence_state",
      summary: "Everyone visible, cluster-wide",
      description: "Pushed once after every successful join, after the join reply.",
      payload: SystemPresence.state,
      delivery: "push",
    },
    {
      event: "presence_diff",
      summary: "Who came online, who left",
      description: "One per change, in the same order for every subscriber.",
      payload: SystemPresence.diff,
      delivery: "broadcast",
    },
    {
      event: "announcement",
      summary: "An operator's announcement",
      description:
        "Published by the api (`POST /api/announcements`) to everyone joined at that moment; not stored, so nobody gets it later.",
      payload: AnnouncementOut,
      delivery: "broadcast",
    },
  ],
};

export const TOPICS: readonly TopicDoc[] = [chat, conversation, user, system];
