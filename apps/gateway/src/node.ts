/**
 * @module
 * Everything a gateway node runs, built from already-parsed settings: the authenticator
 * (JWT + sign-out-everywhere check), membership, the route table and the socket mount.
 * Shared by the gateway process (main.ts) and the standalone node.
 */
import { createAccessTokens, createValidAfterCache } from "@nexus/auth";
import type { Bus } from "@nexus/bus";
import { type Db, userValidAfter } from "@nexus/db";
import type { TemplatedApp } from "@nexus/http";
import { chatSeqSource, createChatChannel } from "./channels/chat-channel.js";
import { createMembership, type Membership } from "./channels/membership.js";
import { createRouter } from "./channels/router.js";
import { createUserChannel } from "./channels/user-channel.js";
import { type Gateway, type GatewayOptions, mountGateway, USERS_CONTROL_TOPIC } from "./gateway.js";
import type { AuthResult } from "./transport/upgrade.js";

export interface GatewayNodeSettings {
  db: Db;
  bus: Bus;
  log: GatewayOptions["log"];
  jwtSecret: string;
  jwtRequireExp: boolean;
  allowedOrigins: readonly string[] | null;
  chatOpenJoin: boolean;
  maxFrameBytes: number;
  idleTimeoutSeconds: number;
  presenceDownMs: number;
  /** True when no other node can exist (in-process bus). */
  solo: boolean;
}

export interface GatewayNode {
  gateway: Gateway;
  membership: Membership;
}

export function mountGatewayNode(app: TemplatedApp, s: GatewayNodeSettings): GatewayNode {
  const validAfter = createValidAfterCache({
    load: (id) => userValidAfter(s.db, id),
    ttlMs: 30_000,
    max: 100_000,
  });
  const tokens = createAccessTokens({
    secret: s.jwtSecret,
    requireExp: s.jwtRequireExp,
    validAfter: validAfter.get,
  });
  const authenticate = async (token: string): Promise<AuthResult> => {
    const r = await tokens.verify(token);
    return r.ok ? { ok: true, userId: r.userId } : { ok: false, reason: r.reason };
  };
  const membership = createMembership(s.db);
  const router = createRouter({
    "chat:*": createChatChannel({ db: s.db, membership, openJoin: s.chatOpenJoin, log: s.log }),
    "user:*": createUserChannel(),
  });
  const gateway = mountGateway(app, {
    router,
    bus: s.bus,
    log: s.log,
    authenticate,
    allowedOrigins: s.allowedOrigins,
    maxFrameBytes: s.maxFrameBytes,
    idleTimeoutSeconds: s.idleTimeoutSeconds,
    seqSource: chatSeqSource(s.db),
    presenceDownMs: s.presenceDownMs,
    presenceSolo: s.solo,
  });
  // A signed-out user's next connect must re-read their valid-after time on every node.
  void s.bus
    .subscribe(USERS_CONTROL_TOPIC, (msg) => {
      if (msg.kind !== "control") return;
      if (msg.action === "disconnect_user" && typeof msg.data === "string") validAfter.invalidate(msg.data);
      if (msg.action === "membership_changed" && typeof msg.data === "object" && msg.data !== null) {
        const d = msg.data as { conversationId?: unknown; userId?: unknown };
        if (typeof d.conversationId === "string") {
          membership.invalidate(d.conversationId, typeof d.userId === "string" ? d.userId : undefined);
        }
      }
    })
    .catch((e) => s.log.error({ err: e }, "could not subscribe to user control events"));
  return { gateway, membership };
}
