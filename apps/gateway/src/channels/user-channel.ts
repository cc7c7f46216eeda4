/**
 * @module
 * `user:{uuid}`: events about one user, for that user only (DESIGN.md §4.5): the api publishes
 * `conversation_added`, `conversation_removed`, `profile_updated` and `signed_out` on the bus
 * topic `user:<id>`, and the fan-out delivers them to this channel on whichever node holds the
 * user's sockets. Clients send nothing here.
 */
import { parseTopic } from "@nexus/protocol";
import type { ChannelHandler } from "./channel.js";

export function createUserChannel(): ChannelHandler<null> {
  return {
    join(topic, _params, ctx) {
      const parsed = parseTopic(topic);
      if (parsed?.kind !== "user") return { ok: false, reply: { reason: "invalid topic" } };
      // The api publishes on the lowercase id; a client must join the topic it will hear.
      if (parsed.id !== ctx.userId) return { ok: false, reply: { reason: "unauthorized" } };
      return { ok: true, state: null };
    },
    handleIn(event) {
      return { reply: { status: "error", response: { reason: "unknown event", event } } };
    },
  };
}
