/**
 * @module
 * Everything a gateway node runs, built from already-parsed settings: the authenticator
 * (JWT + sign-out-everywhere check), membership, the route table and the socket mount.
 * Shared by the gateway process (main.ts) and the standalone node.
 */
import { createAccessTokens, createValidAfterCache } from "@nexus/auth";
import type { Bus } from "@nexus/bus";
import { type Db, userValidAfter } from "@nexus/db";
import type { Registry, TemplatedApp } from "@nexus/http";
import { parseTopic, SYSTEM_GENERAL_TOPIC } from "@nexus/protocol";
import { chatSeqSource, createChatChannel } from "./channels/chat-channel.js";
import { conversationSeqSource, createConversationChannel } from "./channels/conversation-channel.js";
import { createMembership, type Membership } from "./channels/membership.js";
import { createRouter } from "./channels/router.js";
import { createSystemChannel, type SystemState, setHidden } from "./channels/system-channel.js";
import { createUserChannel } from "./channels/user-channel.js";
import type { SeqSource } from "./fanout/fanout.js";
import { type Gateway, type GatewayOptions, mountGateway, USERS_CONTROL_TOPIC } from "./gateway.js";
import { instrumentRoutes } from "./telemetry/instrument.js";
import { registerGatewayMetrics } from "./telemetry/metrics.js";
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
  /** Where the node's Prometheus metrics go (served by the caller at /metrics); none when absent. */
  metrics?: Registry;
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
  // The sources are read only when Prometheus scrapes, by then `gateway` exists.
  const telemetry =
    s.metrics &&
    registerGatewayMetrics(s.metrics, {
      gateway: () => gateway.stats(),
      bus: () => s.bus.stats(),
      busReady: () => s.bus.isReady(),
      presence: () => gateway.presence.stats(),
    });
  const router = createRouter(
    instrumentRoutes(
      {
        "chat:*": createChatChannel({ db: s.db, membership, openJoin: s.chatOpenJoin, log: s.log }),
        "conversation:*": createConversationChannel({ db: s.db, membership, log: s.log }),
        "user:*": createUserChannel(),
        [SYSTEM_GENERAL_TOPIC]: createSystemChannel({ db: s.db }),
      },
      telemetry,
    ),
  );
  const seqSources: Record<string, SeqSource> = {
    chat: chatSeqSource(s.db),
    conversation: conversationSeqSource(s.db),
  };
  const seqSource: SeqSource = {
    lastSeq: async (topic) => seqSources[topic.slice(0, topic.indexOf(":"))]?.lastSeq(topic),
    read: async (topic, from, to) =>
      seqSources[topic.slice(0, topic.indexOf(":"))]?.read(topic, from, to) ?? [],
  };
  const gateway = mountGateway(app, {
    router,
    bus: s.bus,
    log: s.log,
    authenticate,
    allowedOrigins: s.allowedOrigins,
    maxFrameBytes: s.maxFrameBytes,
    idleTimeoutSeconds: s.idleTimeoutSeconds,
    seqSource,
    presenceDownMs: s.presenceDownMs,
    presenceSolo: s.solo,
  });
  // A member removed from a conversation stops hearing it at once: their channels on its
  // topics end (phx_close), on whichever node holds them. Membership is re-read, not taken
  // from the event, so an add and a remove crossing on the bus still end in the truth.
  const membershipChanged = (conversationId: string, userId: string) => {
    const id = conversationId.toLowerCase();
    gateway.withChannels(
      userId,
      (topic) => {
        const parsed = parseTopic(topic);
        return (parsed?.kind === "chat" || parsed?.kind === "conversation") && parsed.id.toLowerCase() === id;
      },
      async () => ((await membership.isMember(id, userId)) ? undefined : "stop"),
    );
  };
  void s.bus
    .subscribe(USERS_CONTROL_TOPIC, (msg) => {
      if (msg.kind !== "control") return;
      // A signed-out user's next connect must re-read their valid-after time on every node.
      if (msg.action === "disconnect_user" && typeof msg.data === "string") validAfter.invalidate(msg.data);
      const d = (typeof msg.data === "object" && msg.data !== null ? msg.data : {}) as {
        conversationId?: unknown;
        userId?: unknown;
        hidden?: unknown;
      };
      if (msg.action === "membership_changed" && typeof d.conversationId === "string") {
        const userId = typeof d.userId === "string" ? d.userId : undefined;
        membership.invalidate(d.conversationId, userId);
        if (userId !== undefined) membershipChanged(d.conversationId, userId);
      }
      if (
        msg.action === "visibility_changed" &&
        typeof d.userId === "string" &&
        typeof d.hidden === "boolean"
      ) {
        const hidden = d.hidden;
        gateway.withChannels(
          d.userId,
          (topic) => topic === SYSTEM_GENERAL_TOPIC,
          (ctx, state) => {
            setHidden(ctx, state as SystemState, hidden);
            return undefined;
          },
        );
      }
    })
    .catch((e) => s.log.error({ err: e }, "could not subscribe to user control events"));
  return { gateway, membership };
}
