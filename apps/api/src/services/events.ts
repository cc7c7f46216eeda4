/**
 * @module
 * What the api tells the cluster over the bus. Gateways act on these: close a signed-out
 * user's sockets, drop cached memberships, and push `user:{id}` / `conversation:{id}` events
 * to the sockets joined there.
 */
import type { Bus, BusMessage } from "@nexus/bus";

/**
 * The control topic every gateway subscribes to. Must equal USERS_CONTROL_TOPIC in
 * apps/gateway/src/gateway.ts (the api does not import the gateway app).
 */
export const USERS_CONTROL_TOPIC = "nexus:users";

/** Must equal SYSTEM_GENERAL_TOPIC in @nexus/protocol. */
export const SYSTEM_GENERAL_TOPIC = "system:general";

export type SignOutReason = "signout_all" | "password_changed" | "password_reset";

export interface ApiEvents {
  /** `signed_out` on `user:{id}`, then `disconnect_user`: every node closes that user's sockets. */
  signedOut(userId: string, reason: SignOutReason): void;
  /** Gateways drop what they cached about this membership. */
  membershipChanged(conversationId: string, userId: string): void;
  /** A server event on the user's own channel (`conversation_added`, `profile_updated`…). */
  toUser(userId: string, event: string, payload: unknown): void;
  /** A server event on a conversation's channel (`keys_uploaded`). */
  toConversation(conversationId: string, event: string, payload: unknown): void;
  /**
   * `profile_updated` on `user:{id}`, and the profile's `hidden` flag to every node, which makes
   * the user leave or appear in `system:general` presence.
   */
  profileUpdated(userId: string, profile: { hidden: boolean } & Record<string, unknown>): void;
  /** `announcement` on `system:general`, to every signed-in user on every node. */
  announce(announcement: { id: string; text: string; inserted_at: string }): void;
}

export function createApiEvents(bus: Bus): ApiEvents {
  const publish = (topic: string, msg: BusMessage) => bus.publish(topic, msg);
  const broadcast = (topic: string, event: string, payload: unknown) =>
    publish(topic, { kind: "broadcast", topic, event, payload: JSON.stringify(payload) });
  return {
    signedOut(userId, reason) {
      broadcast(`user:${userId}`, "signed_out", { reason });
      publish(USERS_CONTROL_TOPIC, {
        kind: "control",
        topic: USERS_CONTROL_TOPIC,
        action: "disconnect_user",
        data: userId,
      });
    },
    membershipChanged(conversationId, userId) {
      publish(USERS_CONTROL_TOPIC, {
        kind: "control",
        topic: USERS_CONTROL_TOPIC,
        action: "membership_changed",
        data: { conversationId, userId },
      });
    },
    toUser(userId, event, payload) {
      broadcast(`user:${userId}`, event, payload);
    },
    toConversation(conversationId, event, payload) {
      broadcast(`conversation:${conversationId}`, event, payload);
    },
    profileUpdated(userId, profile) {
      broadcast(`user:${userId}`, "profile_updated", profile);
      publish(USERS_CONTROL_TOPIC, {
        kind: "control",
        topic: USERS_CONTROL_TOPIC,
        action: "visibility_changed",
        data: { userId, hidden: profile.hidden },
      });
    },
    announce(announcement) {
      broadcast(SYSTEM_GENERAL_TOPIC, "announcement", announcement);
    },
  };
}
