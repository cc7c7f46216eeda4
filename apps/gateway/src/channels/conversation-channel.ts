/**
 * @module
 * `conversation:{uuid}`: seed 000's end-to-end-encrypted conversation (DESIGN.md §4.5). The
 * server routes and stores ciphertext it cannot read. A message is one ciphertext per current
 * member, sender included, refused until every member has uploaded keys; it is stored as a
 * message group (sender, seq) with one message per recipient, and each member, on whichever
 * node, receives only the copy addressed to them. The sender alone may update or delete it.
 *
 * Who is a member is decided per send from Postgres, not from what the channel saw at join: a
 * member added a moment ago must be addressed, or they would hold a gap they can never decrypt.
 */
import {
  appendMessageGroup,
  conversationLastSeq,
  conversationRecipients,
  type Db,
  deleteMessageGroup,
  groupsBySeq,
  type StoredGroup,
  updateMessageGroup,
} from "@nexus/db";
import { parseTopic } from "@nexus/protocol";
import type { SeqSource } from "../fanout/fanout.js";
import type { ChannelContext, ChannelHandler, HandleResult, JsonObject } from "./channel.js";
import { DeleteMsgIn, NewMsgIn, parsePayload, refuse, UpdateMsgIn } from "./conversation-payloads.js";
import type { Membership } from "./membership.js";

export interface ConversationChannelDeps {
  db: Db;
  membership: Membership;
  log: { error(obj: object, msg: string): void };
}

/** The conversation a `conversation:` topic names; undefined for other topics. */
export function conversationOfTopic(topic: string): string | undefined {
  const parsed = parseTopic(topic);
  return parsed?.kind === "conversation" ? parsed.id : undefined;
}

/** One recipient's copy as they receive it: the item shape of GET /api/messages, plus seq. */
function itemsOf(
  group: Pick<StoredGroup, "id" | "senderId" | "seq" | "insertedAt">,
  copies: ReadonlyArray<{ id: string; recipientId: string; content: unknown; updatedAt: string }>,
): Map<string, JsonObject> {
  const out = new Map<string, JsonObject>();
  for (const c of copies) {
    out.set(c.recipientId, {
      id: c.id,
      sender: group.senderId,
      content: c.content,
      message_group: group.id,
      seq: group.seq,
      inserted_at: group.insertedAt,
      updated_at: c.updatedAt,
    });
  }
  return out;
}

/** Where `conversation:` broadcasts start and are read back from when one went missing. */
export function conversationSeqSource(db: Db): SeqSource {
  return {
    async lastSeq(topic) {
      const id = conversationOfTopic(topic);
      return id === undefined ? undefined : ((await conversationLastSeq(db, id)) ?? 0);
    },
    async read(topic, from, to) {
      const id = conversationOfTopic(topic);
      if (id === undefined) return [];
      const groups = await groupsBySeq(db, id, from, to);
      return groups.map((g) => {
        const each: Record<string, string> = {};
        for (const [user, item] of itemsOf(g, g.copies)) each[user] = JSON.stringify(item);
        return { seq: g.seq, event: "new_msg", payload: JSON.stringify(each), each: true as const };
      });
    },
  };
}

const saveFailed: HandleResult = { reply: { status: "error", response: { reason: "Failed to save" } } };
const ok = (response: JsonObject): HandleResult => ({ reply: { status: "ok", response } });

export function createConversationChannel(deps: ConversationChannelDeps): ChannelHandler<null> {
  const { db, log } = deps;

  async function newMsg(
    payload: unknown,
    ctx: ChannelContext,
    conversationId: string,
  ): Promise<HandleResult> {
    const parsed = parsePayload(NewMsgIn, payload);
    if (!parsed.ok) return parsed.reply;
    const addressed = new Map(parsed.value.messages.map((m) => [m.recipient_id, m.content]));
    const members = await conversationRecipients(db, conversationId);
    // Seed 000: nothing is sent until every member has generated and uploaded keys.
    const keyless = members.filter((m) => !m.hasKeys).map((m) => m.userId);
    if (keyless.length > 0) return refuse({ reason: "keys_missing", user_ids: keyless }).reply;
    const memberIds = new Set(members.map((m) => m.userId));
    const missing = [...memberIds].filter((id) => !addressed.has(id));
    const unexpected = [...addressed.keys()].filter((id) => !memberIds.has(id));
    if (missing.length > 0 || unexpected.length > 0) {
      return refuse({ reason: "recipients_mismatch", missing, unexpected }).reply;
    }
    let saved: Awaited<ReturnType<typeof appendMessageGroup>>;
    try {
      saved = await appendMessageGroup(db, {
        conversationId,
        senderId: ctx.userId,
        contents: [...addressed].map(([recipientId, content]) => ({ recipientId, content })),
      });
    } catch (e) {
      log.error({ err: e, conversationId }, "conversation new_msg not saved");
      return saveFailed;
    }
    const group = { id: saved.groupId, senderId: ctx.userId, seq: saved.seq, insertedAt: saved.insertedAt };
    const copies = saved.messages.map((m) => ({
      id: m.id,
      recipientId: m.recipientId!,
      content: m.content,
      updatedAt: m.updatedAt,
    }));
    ctx.broadcastEach("new_msg", itemsOf(group, copies), saved.seq);
    return ok({ message_group: saved.groupId, seq: saved.seq });
  }

  async function updateMsg(payload: unknown, ctx: ChannelContext, conversationId: string) {
    const parsed = parsePayload(UpdateMsgIn, payload);
    if (!parsed.ok) return parsed.reply;
    const { message_group: groupId, messages } = parsed.value;
    let result: Awaited<ReturnType<typeof updateMessageGroup>>;
    try {
      result = await updateMessageGroup(db, {
        conversationId,
        groupId,
        senderId: ctx.userId,
        contents: new Map(messages.map((m) => [m.recipient_id, m.content])),
      });
    } catch (e) {
      log.error({ err: e, conversationId, groupId }, "conversation update_msg not saved");
      return saveFailed;
    }
    if (!result.ok) return refuse({ reason: result.error }).reply;
    ctx.broadcastEach("update_msg", itemsOf(result.group, result.group.copies));
    return ok({ message_group: groupId, seq: result.group.seq });
  }

  async function deleteMsg(payload: unknown, ctx: ChannelContext, conversationId: string) {
    const parsed = parsePayload(DeleteMsgIn, payload);
    if (!parsed.ok) return parsed.reply;
    const groupId = parsed.value.message_group;
    let result: Awaited<ReturnType<typeof deleteMessageGroup>>;
    try {
      result = await deleteMessageGroup(db, { conversationId, groupId, senderId: ctx.userId });
    } catch (e) {
      log.error({ err: e, conversationId, groupId }, "conversation delete_msg not saved");
      return saveFailed;
    }
    if (!result.ok) return refuse({ reason: result.error }).reply;
    // Everyone joined here is a member, and a deletion carries nothing secret: one broadcast.
    ctx.broadcast("delete_msg", { message_group: groupId });
    return ok({ message_group: groupId, seq: result.seq });
  }

  return {
    perRecipient: true,

    async join(topic, _params, ctx) {
      const id = conversationOfTopic(topic);
      // Broadcasts (keys_uploaded from the api) go to the canonical lowercase topic: a client
      // joined under another spelling would never hear them, so it is refused outright.
      if (id === undefined || id !== id.toLowerCase())
        return { ok: false, reply: { reason: "invalid topic" } };
      if (!(await deps.membership.isMember(id, ctx.userId)))
        return { ok: false, reply: { reason: "unauthorized" } };
      return { ok: true, state: null };
    },

    async handleIn(event, payload, ctx) {
      const conversationId = conversationOfTopic(ctx.topic)!;
      switch (event) {
        case "new_msg":
          return newMsg(payload, ctx, conversationId);
        case "update_msg":
          return updateMsg(payload, ctx, conversationId);
        case "delete_msg":
          return deleteMsg(payload, ctx, conversationId);
        default:
          return { reply: { status: "error", response: { reason: "unknown event", event } } };
      }
    },
  };
}
