/**
 * @module
 * `chat:{conversation_id}`, as seed 004 documents it. Members only (unless the deployment
 * turned on seed 004's open mode). `new_msg {body}` is validated, persisted (a message group
 * with the conversation's next seq and one recipient-less message), answered ok, and then
 * broadcast to every subscriber on every node as `new_msg {id, content: {text}, sender_id,
 * inserted_at}`. A failed save answers `{reason: "Failed to save"}` and broadcasts nothing.
 */
import {
  appendMessageGroup,
  conversationLastSeq,
  type Db,
  ensureOpenChat,
  isoMicros,
  type SharedMessage,
  sharedMessagesBySeq,
} from "@nexus/db";
import { parseTopic } from "@nexus/protocol";
import type { SeqSource } from "../fanout/fanout.js";
import type { ChannelHandler, HandleResult, JsonObject } from "./channel.js";
import type { Membership } from "./membership.js";

/** Characters in one message body; frames are capped at 64 KB anyway, this is the product limit. */
export const MAX_BODY_CHARS = 10_000;

export interface ChatState {
  /** When this channel's presence was first tracked; kept across presence updates. */
  onlineAt: string;
}

export interface ChatChannelDeps {
  db: Db;
  membership: Membership;
  /** Seed 004's open behaviour; see CHAT_OPEN_JOIN in the README. */
  openJoin: boolean;
  log: { error(obj: object, msg: string): void };
}

/** Seed 004's `new_msg` broadcast (plus `seq`), from a stored message: live and re-delivered alike. */
export function newMsgPayload(
  m: Pick<SharedMessage, "id" | "senderId" | "content" | "insertedAt" | "seq">,
): JsonObject {
  const text = (m.content as { text?: unknown } | null)?.text;
  return { id: m.id, content: { text }, sender_id: m.senderId, inserted_at: m.insertedAt, seq: m.seq };
}

/** Where `chat:` broadcasts start and are read back from when one went missing: Postgres. */
/** The conversation a `chat:` topic names (lowercase, as stored); undefined for other topics. */
function conversationOf(topic: string): string | undefined {
  const parsed = parseTopic(topic);
  return parsed?.kind === "chat" ? parsed.id.toLowerCase() : undefined;
}

export function chatSeqSource(db: Db): SeqSource {
  return {
    async lastSeq(topic) {
      const id = conversationOf(topic);
      // A conversation that does not exist yet (open mode) starts at 0.
      return id === undefined ? undefined : ((await conversationLastSeq(db, id)) ?? 0);
    },
    async read(topic, from, to) {
      const id = conversationOf(topic);
      if (id === undefined) return [];
      const rows = await sharedMessagesBySeq(db, id, from, to);
      return rows.map((m) => ({ seq: m.seq, event: "new_msg", payload: JSON.stringify(newMsgPayload(m)) }));
    },
  };
}

const isObject = (v: unknown): v is JsonObject => typeof v === "object" && v !== null && !Array.isArray(v);

const MAX_PRESENCE_FIELDS = 8;
const MAX_PRESENCE_STRING = 256;
const RESERVED_META = new Set(["phx_ref", "phx_ref_prev", "online_at"]);

/** What a client may put in its own presence meta (status, typing, device…): small and flat. */
function presenceFields(payload: unknown): Record<string, string | number | boolean> | string {
  // A V2 binary payload is a Uint8Array, an object too: its bytes must not become fields.
  if (!isObject(payload) || payload instanceof Uint8Array) return "must be a JSON object";
  const entries = Object.entries(payload);
  if (entries.length > MAX_PRESENCE_FIELDS) return `at most ${MAX_PRESENCE_FIELDS} fields`;
  const out: Record<string, string | number | boolean> = {};
  for (const [k, v] of entries) {
    if (RESERVED_META.has(k)) return `${k} is set by the server`;
    if (
      typeof v === "string" ? v.length > MAX_PRESENCE_STRING : typeof v !== "number" && typeof v !== "boolean"
    ) {
      return `${k} must be a boolean, a number or a string of at most ${MAX_PRESENCE_STRING} characters`;
    }
    out[k] = v as string | number | boolean;
  }
  return out;
}

function invalid(field: string, message: string): HandleResult {
  return {
    reply: { status: "error", response: { reason: "invalid_payload", errors: { [field]: [message] } } },
  };
}

export function createChatChannel(deps: ChatChannelDeps): ChannelHandler<ChatState> {
  return {
    async join(topic, _params, ctx) {
      const parsed = parseTopic(topic);
      if (parsed?.kind !== "chat") return { ok: false, reply: { reason: "invalid topic" } };
      // The topic string on the wire keeps the client's spelling; the database wants lowercase.
      const conversationId = parsed.id.toLowerCase();
      if (!deps.openJoin && !(await deps.membership.isMember(conversationId, ctx.userId))) {
        return { ok: false, reply: { reason: "unauthorized" } };
      }
      return { ok: true, state: { onlineAt: "" } };
    },

    // Seed 004: "presence_state with current users", then "your presence is automatically
    // tracked". State first, then track: our own join then reaches us as a diff after the state,
    // so the client's onJoin fires once for it, as against Phoenix.
    async afterJoin(ctx, state) {
      await ctx.presence.watch();
      ctx.push("presence_state", ctx.presence.list());
      state.onlineAt = isoMicros();
      ctx.presence.track(ctx.userId, { online_at: state.onlineAt });
    },

    async handleIn(event, payload, ctx, state) {
      switch (event) {
        case "new_msg": {
          // Derived, not kept in the channel state: idle sockets are the memory bill.
          const conversationId = conversationOf(ctx.topic)!;
          const body = isObject(payload) ? payload.body : undefined;
          if (typeof body !== "string" || body.trim() === "")
            return invalid("body", "must be a non-empty string");
          if (body.length > MAX_BODY_CHARS)
            return invalid("body", `must be at most ${MAX_BODY_CHARS} characters`);
          let saved: Awaited<ReturnType<typeof appendMessageGroup>>;
          try {
            if (deps.openJoin) await ensureOpenChat(deps.db, conversationId, ctx.userId);
            saved = await appendMessageGroup(deps.db, {
              conversationId,
              senderId: ctx.userId,
              contents: [{ recipientId: null, content: { text: body } }],
            });
          } catch (e) {
            deps.log.error({ err: e, conversationId }, "new_msg not saved");
            return { reply: { status: "error", response: { reason: "Failed to save" } } };
          }
          const message = saved.messages[0]!;
          ctx.broadcastSeq(
            "new_msg",
            newMsgPayload({
              id: message.id,
              senderId: ctx.userId,
              content: { text: body },
              insertedAt: message.insertedAt,
              seq: saved.seq,
            }),
            saved.seq,
          );
          return { reply: { status: "ok", response: { id: message.id, seq: saved.seq } } };
        }
        case "update_presence": {
          const fields = presenceFields(payload);
          if (typeof fields === "string") return invalid("payload", fields);
          ctx.presence.update(ctx.userId, { ...fields, online_at: state.onlineAt });
          return { reply: { status: "ok", response: {} } };
        }
        case "ping":
          if (!isObject(payload)) return invalid("payload", "must be a JSON object");
          return { reply: { status: "ok", response: payload } };
        default:
          return { reply: { status: "error", response: { reason: "unknown event", event } } };
      }
    },
  };
}
