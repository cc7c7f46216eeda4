/** @module PATCH /api/profile: the signed-in user's preferences (seed 000). */
import { updateProfile } from "@nexus/db";
import type { ApiContext } from "../context.js";
import { ok, unauthorized } from "../http/reply.js";
import { authedRoute, type Route } from "../http/route.js";
import { Profile, ProfilePatchRequest } from "../schemas.js";
import { profileView } from "../services/views.js";

export function profileRoutes(ctx: ApiContext): Route[] {
  const patchProfile = authedRoute({
    method: "patch",
    path: "/api/profile",
    body: ProfilePatchRequest,
    doc: {
      tag: "profile",
      summary: "Change profile settings",
      description:
        "The user's other sessions get `profile_updated` on their `user:{id}` channel; setting `hidden` makes the user leave (or appear in) `system:general` presence on every gateway at once.",
      responses: { 200: { description: "The whole profile after the change", schema: Profile } },
    },
    async handler({ userId, body }) {
      const profile = await updateProfile(ctx.db, userId, body);
      if (profile === undefined) return unauthorized();
      const view = profileView(profile);
      ctx.events.profileUpdated(userId, view);
      return ok(view);
    },
  });
  return [patchProfile];
}
