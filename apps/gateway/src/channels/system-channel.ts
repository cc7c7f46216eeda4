/**
 * @module
 * `system:general`: every signed-in user may join. Cluster-wide presence of who is online
 * (key = user id, meta `{online_at}`), honouring `profile.hidden`: a hidden user is never
 * tracked, and toggling the flag makes them leave or appear at once on every node (the api
 * announces the change; node.ts runs `setHidden` in each of the user's channels here). Server
 * announcements arrive as `announcement` broadcasts from the api.
 */
import { type Db, isoMicros, userHidden } from "@nexus/db";
import { SYSTEM_GENERAL_TOPIC } from "@nexus/protocol";
import type { ChannelContext, ChannelHandler } from "./channel.js";

export interface SystemState {
  onlineAt: string;
  hidden: boolean;
}

export function createSystemChannel({ db }: { db: Db }): ChannelHandler<SystemState> {
  return {
    join(topic) {
      if (topic !== SYSTEM_GENERAL_TOPIC) return { ok: false, reply: { reason: "invalid topic" } };
      return { ok: true, state: { onlineAt: "", hidden: true } };
    },

    // Runs with the channel already registered, so a visibility change announced from now on
    // is queued behind this and applied after it. One announced earlier was committed before
    // it was announced, so the read below sees it.
    async afterJoin(ctx, state) {
      await ctx.presence.watch();
      ctx.push("presence_state", ctx.presence.list());
      state.onlineAt = isoMicros();
      state.hidden = await userHidden(db, ctx.userId);
      if (!state.hidden) ctx.presence.track(ctx.userId, { online_at: state.onlineAt });
    },

    handleIn(event) {
      return { reply: { status: "error", response: { reason: "unknown event", event } } };
    },
  };
}

/** The user hid or showed themselves: leave or appear now (one presence diff, or none if unchanged). */
export function setHidden(ctx: ChannelContext, state: SystemState, hidden: boolean): void {
  if (state.hidden === hidden) return;
  state.hidden = hidden;
  if (hidden) ctx.presence.untrack();
  else ctx.presence.track(ctx.userId, { online_at: state.onlineAt });
}
