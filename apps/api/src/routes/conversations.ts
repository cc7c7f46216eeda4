/**
 * @module
 * Conversations (DESIGN §4.5): create private or group conversations, list the caller's, add
 * and remove members, upload and read key material; and seed 000's private-pair lookup.
 * A conversation that does not exist is 404; one the caller is not a member of is 403.
 */
import {
  addMembers,
  type Conversation,
  createGroupConversation,
  existingUserIds,
  findOrCreatePrivateConversation,
  findPrivateConversation,
  listMembers,
  listUserConversations,
  removeMember,
} from "@nexus/db";
import type { ApiContext } from "../context.js";
import { created, forbidden, noContent, notFound, ok, unprocessable } from "../http/reply.js";
import { authedRoute, type Route } from "../http/route.js";
import {
  AddMembersRequest,
  ConversationList,
  ConversationParams,
  ConversationResponse,
  CreateConversationRequest,
  MemberParams,
  PrivateConversationResponse,
  UserParams,
} from "../schemas.js";
import { memberConversation } from "../services/membership.js";
import { conversationView, userSummaryView } from "../services/views.js";
import { keyRoutes } from "./keys.js";

const TAG = "conversations";
const FIXED_MEMBERS = "Private conversations cannot change members";

export function conversationRoutes(ctx: ApiContext): Route[] {
  const { db, events } = ctx;

  /** Tells every new member but the actor, and every gateway, about the new memberships. */
  function announceAdded(conversation: Conversation, userIds: readonly string[], actor: string) {
    const view = conversationView(conversation);
    for (const userId of userIds) {
      events.membershipChanged(conversation.id, userId);
      if (userId !== actor) events.toUser(userId, "conversation_added", { conversation: view });
    }
  }

  const create = authedRoute({
    method: "post",
    path: "/api/conversations",
    body: CreateConversationRequest,
    doc: {
      tag: TAG,
      summary: "Create a private or group conversation",
      description:
        "Private: exactly one other user, no alias; if the pair already has one, it is returned with 200. The other members get `conversation_added` on their `user:{id}` channel.",
      responses: {
        200: { description: "The pair's existing private conversation", schema: ConversationResponse },
        201: { description: "Created", schema: ConversationResponse },
        422: { description: "Validation failed or unknown users" },
      },
    },
    async handler({ userId, body }) {
      const others = [...new Set(body.user_ids.map((id) => id.toLowerCase()))].filter((id) => id !== userId);
      if (body.private) {
        if (body.alias !== undefined && body.alias !== null) {
          return unprocessable({ alias: ["must be blank for a private conversation"] });
        }
        if (others.length !== 1) {
          return unprocessable({ user_ids: ["must name exactly one other user for a private conversation"] });
        }
      }
      const known = await existingUserIds(db, others);
      if (known.size !== others.length) return unprocessable({ user_ids: ["contains unknown users"] });

      let conversation: Conversation;
      let isNew = true;
      if (body.private) {
        const found = await findOrCreatePrivateConversation(db, userId, others[0]!);
        conversation = found.conversation;
        isNew = found.created;
      } else {
        conversation = await createGroupConversation(db, {
          memberIds: [userId, ...others],
          alias: body.alias ?? null,
        });
      }
      if (isNew) announceAdded(conversation, [userId, ...others], userId);
      const payload = {
        conversation: conversationView(conversation),
        users: (await listMembers(db, conversation.id)).map(userSummaryView),
      };
      return isNew ? created(payload) : ok(payload);
    },
  });

  const list = authedRoute({
    method: "get",
    path: "/api/conversations",
    doc: {
      tag: TAG,
      summary: "The caller's conversations, newest first",
      responses: { 200: { description: "Conversations", schema: ConversationList } },
    },
    async handler({ userId }) {
      return ok({ conversations: (await listUserConversations(db, userId)).map(conversationView) });
    },
  });

  const addMembersRoute = authedRoute({
    method: "post",
    path: "/api/conversations/:id/members",
    params: ConversationParams,
    body: AddMembersRequest,
    doc: {
      tag: TAG,
      summary: "Add members to a group conversation",
      description:
        "Any member may add. Users already members are ignored. New members get `conversation_added`.",
      responses: {
        204: { description: "Added" },
        403: { description: "Not a member, or the conversation is private" },
        404: { description: "No such conversation" },
        422: { description: "Validation failed or unknown users" },
      },
    },
    async handler({ userId, params, body }) {
      const found = await memberConversation(ctx, params.id, userId);
      if (!found.ok) return found.reply;
      if (found.conversation.private) return forbidden(FIXED_MEMBERS);
      const ids = [...new Set(body.user_ids.map((id) => id.toLowerCase()))];
      const known = await existingUserIds(db, ids);
      if (known.size !== ids.length) return unprocessable({ user_ids: ["contains unknown users"] });
      const added = await addMembers(db, found.conversation.id, ids);
      announceAdded(found.conversation, added, userId);
      return noContent();
    },
  });

  const removeMemberRoute = authedRoute({
    method: "del",
    path: "/api/conversations/:id/members/:user_id",
    params: MemberParams,
    doc: {
      tag: TAG,
      summary: "Remove a member from a group conversation (yourself: leave)",
      description:
        "Any member may remove any member. The member's key material goes with the membership. A removed user (other than the caller) gets `conversation_removed`.",
      responses: {
        204: { description: "Removed" },
        403: { description: "Not a member, or the conversation is private" },
        404: { description: "No such conversation, or the user is not a member" },
      },
    },
    async handler({ userId, params }) {
      const found = await memberConversation(ctx, params.id, userId);
      if (!found.ok) return found.reply;
      if (found.conversation.private) return forbidden(FIXED_MEMBERS);
      const target = params.user_id.toLowerCase();
      if (!(await removeMember(db, found.conversation.id, target)))
        return notFound("Not a member of this conversation");
      events.membershipChanged(found.conversation.id, target);
      if (target !== userId)
        events.toUser(target, "conversation_removed", { conversation_id: found.conversation.id });
      return noContent();
    },
  });

  const privateLookup = authedRoute({
    method: "get",
    path: "/api/conversations/private/:user_id",
    params: UserParams,
    doc: {
      tag: TAG,
      summary: "The caller's private conversation with a user, if any",
      responses: {
        200: { description: "The conversation id, or null", schema: PrivateConversationResponse },
      },
    },
    async handler({ userId, params }) {
      const other = params.user_id.toLowerCase();
      const id = other === userId ? undefined : await findPrivateConversation(db, userId, other);
      return ok({ conversation_id: id ?? null });
    },
  });

  return [create, list, privateLookup, addMembersRoute, removeMemberRoute, ...keyRoutes(ctx)];
}
