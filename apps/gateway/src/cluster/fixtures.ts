/**
 * @module
 * What the cluster tests share besides processes: seeding users and a conversation through
 * drizzle, tokens minted the way seed 004's backend mints them, seed 004's ChatClient pointed
 * at one node, and a look at Redis's own view of who is subscribed to what.
 */
import { randomUUID } from "node:crypto";
import { createDb, schema } from "@nexus/db";
import { waitFor } from "@nexus/testkit";
import type { Redis } from "ioredis";
import WebSocket from "ws";
import { ChatClient } from "../chat/seed-004-chat-client.js";
import { pyjwtHs256 } from "../testing/jwt.js";
import type { GatewayProcess } from "./cluster-harness.js";

export const JWT_SECRET = "cluster-test-jwt-secret-0123456789abcdef";

/** The broadcast seed 004's clients receive (chat-channel.ts). */
export interface NewMsg {
  id: string;
  content: { text: string };
  sender_id: string;
  seq: number;
}

export interface Seeded {
  conversationId: string;
  users: string[];
}

/** `n` users, all members of one new conversation. */
export async function seedConversation(databaseUrl: string, n: number): Promise<Seeded> {
  const handle = createDb({ kind: "postgres", url: databaseUrl, poolSize: 1 });
  try {
    const db = handle.db;
    const users = await db
      .insert(schema.users)
      .values(
        Array.from({ length: n }, () => {
          const email = `${randomUUID()}@example.com`;
          return { email, displayName: email, passwordHash: "x" };
        }),
      )
      .returning({ id: schema.users.id });
    const [conversation] = await db
      .insert(schema.conversations)
      .values({ private: false, alias: "cluster" })
      .returning({ id: schema.conversations.id });
    await db
      .insert(schema.conversationMembers)
      .values(users.map((u) => ({ conversationId: conversation!.id, userId: u.id })));
    return { conversationId: conversation!.id, users: users.map((u) => u.id) };
  } finally {
    await handle.close();
  }
}

export const tokenFor = (userId: string) =>
  pyjwtHs256({ sub: userId, exp: Math.floor(Date.now() / 1000) + 3600 }, JWT_SECRET);

/** Seed 004's client, unchanged; `socketUrl` picks the node (or the balancer in front of them). */
export class Clients {
  readonly all: ChatClient[] = [];

  open(userId: string, socketUrl: string): ChatClient {
    const c = new ChatClient(tokenFor(userId), socketUrl);
    this.all.push(c);
    return c;
  }

  /** Opens and joins; resolves once the join was answered ok (the node is subscribed by then). */
  async joined(userId: string, socketUrl: string, conversationId: string): Promise<ChatClient> {
    const c = this.open(userId, socketUrl);
    await c.joinConversation(conversationId);
    return c;
  }

  disconnectAll(): void {
    for (const c of this.all) c.disconnect();
    this.all.length = 0;
  }
}

export const messages = (c: ChatClient) => c.received as NewMsg[];

/** Resolves once `c` holds at least `n` broadcasts. */
export const receivedAtLeast = (c: ChatClient, n: number, what = `${n} broadcasts`) =>
  waitFor(() => c.received.length >= n, { what, timeoutMs: 20_000 });

/** Sends `bodies` back to back without waiting for replies in between; resolves with every reply. */
export function sendAll(c: ChatClient, conversationId: string, bodies: string[]) {
  return Promise.all(
    bodies.map((b) => c.sendMessage(conversationId, b) as Promise<{ id: string; seq: number }>),
  );
}

/** Seq values that are not greater than the one before them: where a receiver saw order break. */
export function inversions(seqs: number[]): Array<{ at: number; prev: number; seq: number }> {
  const out: Array<{ at: number; prev: number; seq: number }> = [];
  for (let i = 1; i < seqs.length; i++)
    if (seqs[i]! <= seqs[i - 1]!) out.push({ at: i, prev: seqs[i - 1]!, seq: seqs[i]! });
  return out;
}

/** The Redis channel a gateway subscribes for a Phoenix topic (redis-bus.ts: `${prefix}:t:${topic}`, prefix "nexus"). */
export const busChannel = (topic: string) => `nexus:t:${topic}`;

/** Subscriber count per channel, as Redis sees it. */
export async function numsub(redis: Redis, channel: string): Promise<number> {
  const reply = (await redis.call("PUBSUB", "NUMSUB", channel)) as [string, number];
  return Number(reply[1]);
}

/**
 * How many channels each node's subscriber connection holds, keyed by node id. The bus names
 * its connections `nexus:<nodeId>:sub` (CLIENT SETNAME), so CLIENT LIST tells the nodes apart.
 */
export async function subscriptionsByNode(redis: Redis): Promise<Map<string, number>> {
  const list = (await redis.call("CLIENT", "LIST")) as string;
  const out = new Map<string, number>();
  for (const line of list.split("\n")) {
    const name = /\bname=nexus:(\S+):sub\b/.exec(line)?.[1];
    const sub = /\bsub=(\d+)\b/.exec(line)?.[1];
    if (name && sub) out.set(name, Number(sub));
  }
  return out;
}

/** Phoenix V2 frames over a bare `ws` socket, for sequences the phoenix client will not send (join/leave churn). */
export class RawSocket {
  readonly frames: unknown[][] = [];
  #ref = 0;

  private constructor(readonly ws: WebSocket) {
    ws.on("message", (data) => this.frames.push(JSON.parse(String(data)) as unknown[]));
  }

  static open(socketUrl: string, userId: string): Promise<RawSocket> {
    const ws = new WebSocket(
      `${socketUrl}/websocket?vsn=2.0.0&token=${encodeURIComponent(tokenFor(userId))}`,
    );
    return new Promise((resolve, reject) => {
      ws.once("open", () => resolve(new RawSocket(ws)));
      ws.once("error", reject);
    });
  }

  /** Sends `[join_ref, ref, topic, event, payload]`; returns the ref. */
  push(joinRef: string | null, topic: string, event: string, payload: object = {}): string {
    const ref = String(++this.#ref);
    this.ws.send(JSON.stringify([joinRef, ref, topic, event, payload]));
    return ref;
  }

  replyTo(ref: string): unknown[] | undefined {
    return this.frames.find((f) => f[1] === ref && f[3] === "phx_reply");
  }

  events(event: string): unknown[][] {
    return this.frames.filter((f) => f[3] === event);
  }

  close(): void {
    this.ws.terminate();
  }
}

/** Close codes the client's socket has seen, from now on. */
export function closeCodes(c: ChatClient): number[] {
  const codes: number[] = [];
  c.socket.onClose((e) => {
    codes.push(e.code);
  });
  return codes;
}

/** The client's socket is open and its channel for the conversation (re)joined. */
export const isJoined = (c: ChatClient, conversationId: string) =>
  c.socket.isConnected() && c.channels.get(`chat:${conversationId}`)?.state === "joined";

/**
 * Waits until no node holds a socket or a topic and Redis has no per-topic subscription left
 * from any node. Fails at once, with its output, if a node died.
 */
export async function waitIdle(nodes: readonly GatewayProcess[], redis: Redis): Promise<void> {
  const outcome = await waitFor(
    async () => {
      const dead = nodes.find((n) => !n.alive());
      if (dead) return dead;
      const stats = await Promise.all(nodes.map((n) => n.stats()));
      if (stats.some((s) => s.connections !== 0 || s.fanout.topics !== 0)) return false;
      // Every node keeps a few standing subscriptions (user control events, presence control and
      // its own inbox); what must be gone is every per-topic one: chat topics and their presence.
      const perTopic = (await Promise.all(
        ["nexus:t:chat:*", "nexus:t:presence:t:*"].map((pattern) =>
          redis.call("PUBSUB", "CHANNELS", pattern),
        ),
      )) as string[][];
      return perTopic.every((list) => list.length === 0) && "idle";
    },
    { what: "the cluster to be idle" },
  );
  if (outcome !== "idle") throw new Error(`gateway ${outcome.nodeId} died:\n${outcome.process.output()}`);
}
