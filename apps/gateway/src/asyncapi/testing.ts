/**
 * @module
 * For asyncapi/channels.test.ts: the real channel handlers and the real api on one embedded
 * PGlite database, with the real presence tracker, and a channel context that records what a
 * channel sends instead of writing frames. Three registered users (a and b share a group
 * conversation; outsider is in none), and every api broadcast to their `user:` topics and to
 * `system:general` is captured.
 */
import { type Api, createLogMailer, createMemoryRateLimiter, mountApi } from "@nexus/api";
import { type BusMessage, createMemoryBus, createMemoryHub } from "@nexus/bus";
import { createLogger } from "@nexus/config";
import { createDb, type Db } from "@nexus/db";
import { listen, uWS } from "@nexus/http";
import { createTracker, type PresenceDiff, type Tracker } from "@nexus/presence";
import { SYSTEM_GENERAL_TOPIC } from "@nexus/protocol";
import { expect, vi } from "vitest";
import type { ChannelContext, ChannelHandler, ChannelPresence, JsonObject } from "../channels/channel.js";
import { createChatChannel } from "../channels/chat-channel.js";
import { createConversationChannel } from "../channels/conversation-channel.js";
import { createMembership } from "../channels/membership.js";
import { createSystemChannel } from "../channels/system-channel.js";
import { createUserChannel } from "../channels/user-channel.js";
import type { TopicDoc } from "./catalog.js";

export const ADMIN_TOKEN = "asyncapi-test-admin-token-0123456789";
const JWT_SECRET = "asyncapi-test-jwt-secret-0123456789abcdef";
const PASSWORD = "correct horse battery staple";
export const silentLog = { error() {}, warn() {} };

export interface User {
  id: string;
  token: string;
}

/** What a channel sent through its context. */
export interface Sent {
  event: string;
  payload: unknown;
  delivery: "push" | "broadcast";
  /** broadcastEach: the one recipient of this payload. */
  to?: string;
}

export type Reply = { status: string; response: unknown };

let nextOwner = 0;

/** One channel as the session would run it, minus the socket: replies are returned, sends recorded. */
export class TestChannel {
  readonly sent: Sent[] = [];
  readonly ctx: ChannelContext;
  state: unknown;

  constructor(
    readonly handler: ChannelHandler,
    readonly topic: string,
    userId: string,
    tracker: Tracker,
  ) {
    const sent = this.sent;
    const record = (delivery: Sent["delivery"]) => (event: string, payload: unknown) =>
      void sent.push({ event, payload, delivery });
    const owner = `test-${++nextOwner}`;
    const presence: ChannelPresence = {
      watch: () => tracker.watch(topic),
      list: () => tracker.list(topic),
      track: (key, meta) => void tracker.track(topic, key, owner, meta),
      update: (key, meta) => void tracker.update(topic, key, owner, meta),
      untrack: () => tracker.untrack(topic, owner),
    };
    this.ctx = {
      userId,
      topic,
      params: {},
      presence,
      push: record("push"),
      broadcast: record("broadcast"),
      broadcastFrom: record("broadcast"),
      broadcastSeq: record("broadcast"),
      broadcastEach(event: string, payloads: ReadonlyMap<string, JsonObject>) {
        for (const [to, payload] of payloads) sent.push({ event, payload, delivery: "broadcast", to });
      },
    };
  }

  async join() {
    const result = await this.handler.join(this.topic, {}, this.ctx);
    if (result.ok) {
      this.state = result.state;
      await this.handler.afterJoin?.(this.ctx, this.state);
    }
    return result;
  }

  async push(event: string, payload: unknown): Promise<Reply> {
    const result = await this.handler.handleIn(event, payload, this.ctx, this.state);
    if (!("reply" in result)) throw new Error(`${event}: no reply`);
    return result.reply as Reply;
  }

  /** Everything sent so far, each checked against the topic's documented server event; clears it. */
  drain(doc: TopicDoc): Sent[] {
    const out = this.sent.splice(0);
    for (const s of out) {
      const documented = doc.serverEvents.find((e) => e.event === s.event);
      expect(documented, `${doc.id} sends ${s.event}`).toBeDefined();
      expect(s.delivery, s.event).toBe(documented!.delivery);
      documented!.payload.parse(s.payload);
    }
    return out;
  }
}

/** Checks a reply against the documented ok or error response of `event`. */
export function documentedReply(doc: TopicDoc, event: string, r: Reply): Reply {
  const documented = doc.clientEvents.find((e) => e.event === event);
  expect(documented, `${doc.id} ${event}`).toBeDefined();
  (r.status === "ok" ? documented!.ok : documented!.error).parse(r.response);
  return r;
}

export function channelHandlers(db: Db): Record<string, ChannelHandler> {
  const membership = createMembership(db);
  return {
    chat: createChatChannel({ db, membership, openJoin: false, log: silentLog }) as ChannelHandler,
    conversation: createConversationChannel({ db, membership, log: silentLog }) as ChannelHandler,
    user: createUserChannel() as ChannelHandler,
    system: createSystemChannel({ db }) as ChannelHandler,
  };
}

export interface World {
  handlers: Record<string, ChannelHandler>;
  tracker: Tracker;
  /** Every presence_diff the tracker produced, by topic. */
  diffs: Array<{ topic: string; diff: PresenceDiff }>;
  a: User;
  b: User;
  outsider: User;
  conversationId: string;
  /** A REST call that must succeed; its JSON body. */
  call(
    method: string,
    path: string,
    token: string,
    body?: unknown,
  ): Promise<Record<string, unknown> | undefined>;
  /** Captures the api's broadcasts on `topic` from now on. */
  capture(topic: string): Promise<void>;
  /** Waits for the captured broadcast of `event` on `topic` and takes it: its payload. */
  published(topic: string, event: string): Promise<unknown>;
  /** Captured broadcasts not taken yet. */
  untaken(): BusMessage[];
  /** Joins `topic` as `user`, which must succeed. */
  join(doc: TopicDoc, topic: string, user: User): Promise<TestChannel>;
  close(): Promise<void>;
}

export async function startWorld(): Promise<World> {
  const database = createDb({ kind: "pglite" });
  await database.migrate();
  const hub = createMemoryHub();
  const quiet = createLogger({ level: "error", pretty: false, destination: { write: () => {} } });
  const app = uWS.App();
  const api: Api = mountApi(app, {
    db: database.db,
    bus: createMemoryBus({ hub, nodeId: "api" }),
    log: quiet,
    jwtSecret: JWT_SECRET,
    jwtRequireExp: false,
    vaultKey: Buffer.alloc(32, 7),
    adminToken: ADMIN_TOKEN,
    frontendUrl: "http://localhost:4000",
    mailer: createLogMailer(quiet, "nexus@localhost"),
    rateLimiter: createMemoryRateLimiter(),
    outbox: { run: false },
  });
  const listening = await listen(app, "127.0.0.1", 0);
  const base = `http://127.0.0.1:${listening.port}`;
  const diffs: World["diffs"] = [];
  const tracker = createTracker({
    bus: createMemoryBus({ nodeId: "gateway" }),
    onDiff: (topic, diff) => void diffs.push({ topic, diff }),
    solo: true,
  });
  const handlers = channelHandlers(database.db);
  const listener = createMemoryBus({ hub, nodeId: "listener" });
  const captured: BusMessage[] = [];

  async function call(method: string, path: string, token: string, body?: unknown) {
    const res = await fetch(`${base}${path}`, {
      method,
      headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    expect(res.status, `${method} ${path}: ${text}`).toBeLessThan(300);
    return text ? (JSON.parse(text) as Record<string, unknown>) : undefined;
  }
  async function register(label: string): Promise<User> {
    const res = await fetch(`${base}/auth/register`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ email: `${label}@example.com`, password: PASSWORD }),
    });
    expect(res.status).toBe(201);
    const json = (await res.json()) as { user: { id: string }; auth_token: string };
    return { id: json.user.id, token: json.auth_token };
  }
  const capture = async (topic: string) => {
    await listener.subscribe(topic, (m) => void captured.push(m));
  };

  const [a, b, outsider] = await Promise.all([register("a"), register("b"), register("outsider")]);
  for (const topic of [SYSTEM_GENERAL_TOPIC, ...[a!, b!, outsider!].map((u) => `user:${u.id}`)]) {
    await capture(topic);
  }
  const created = await call("POST", "/api/conversations", a!.token, {
    private: false,
    user_ids: [b!.id],
    alias: "asyncapi",
  });

  return {
    handlers,
    tracker,
    diffs,
    a: a!,
    b: b!,
    outsider: outsider!,
    conversationId: (created!.conversation as { id: string }).id,
    call,
    capture,
    async published(topic, event) {
      const hit = await vi.waitFor(() => {
        const m = captured.find((c) => c.kind === "broadcast" && c.topic === topic && c.event === event);
        if (m?.kind !== "broadcast") throw new Error(`no ${event} on ${topic} yet`);
        return m;
      });
      captured.splice(captured.indexOf(hit), 1);
      return JSON.parse(hit.payload);
    },
    untaken: () => captured.filter((m) => m.kind === "broadcast"),
    async join(doc, topic, user) {
      const channel = new TestChannel(handlers[doc.id]!, topic, user.id, tracker);
      const result = await channel.join();
      expect(result.ok, `${user.id} joins ${topic}`).toBe(true);
      // No Nexus channel answers a join with a response of its own: the session replies {}.
      expect(result.ok && result.reply).toBeUndefined();
      return channel;
    },
    async close() {
      listening.close();
      await api.close();
      await tracker.close();
      await database.close();
    },
  };
}
