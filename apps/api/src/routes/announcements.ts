/**
 * @module
 * POST /api/announcements: an operator's message to everyone online, as `announcement` on
 * `system:general` on every gateway. Not stored: who is offline does not get it later.
 */
import { randomUUID } from "node:crypto";
import { isoMicros } from "@nexus/db";
import type { ApiContext } from "../context.js";
import { created } from "../http/reply.js";
import { adminRoute, type Route } from "../http/route.js";
import { AnnouncementRequest, AnnouncementResponse } from "../schemas.js";

export function announcementRoutes(ctx: ApiContext): Route[] {
  const announce = adminRoute({
    method: "post",
    path: "/api/announcements",
    body: AnnouncementRequest,
    doc: {
      tag: "operator",
      summary: "Announce something to every signed-in user",
      description:
        "Broadcast as `announcement {id, text, inserted_at}` on the `system:general` channel of every gateway. Needs `Authorization: Bearer <ADMIN_TOKEN>`.",
      responses: { 201: { description: "Sent", schema: AnnouncementResponse } },
    },
    async handler({ body, log }) {
      const announcement = { id: randomUUID(), text: body.text, inserted_at: isoMicros() };
      ctx.events.announce(announcement);
      log.info({ announcementId: announcement.id }, "announcement sent");
      return created({ announcement });
    },
  });
  return [announce];
}
