/**
 * @module
 * The seam between the Phoenix socket machinery and application channels. A handler never
 * sees uWS, frames or refs: it gets a context that can push to its own socket and broadcast to
 * its topic, and it answers with values (PROTOCOL.md §4; STYLE principle 4).
 */

import type { Meta, PresenceMap } from "@nexus/presence";

export type JsonObject = { [key: string]: unknown };

/**
 * Cluster-wide presence for this channel's topic (PROTOCOL.md §6). What a channel tracks lives
 * exactly as long as the channel: it is untracked when the channel ends for any reason,
 * including a duplicate join (which skips `terminate`), and when the socket closes.
 */
export interface ChannelPresence {
  /** Start following the topic's presence on this node; resolves once the cluster-wide view is complete. */
  watch(): Promise<void>;
  /** The `presence_state` payload: every key on the topic, cluster-wide. */
  list(): PresenceMap;
  /** Track `key` with `meta` (a new phx_ref); a second track by the same channel is ignored. */
  track(key: string, meta: Meta): void;
  /** Replace this channel's meta: one diff with the new ref (and phx_ref_prev) and the old one leaving. */
  update(key: string, meta: Meta): void;
  /** What this channel tracked leaves now (one diff); it may track again later. */
  untrack(): void;
}

export interface ChannelContext {
  readonly userId: string;
  readonly topic: string;
  /** Connect params (query string), as Phoenix passes them to connect/3. */
  readonly params: Readonly<Record<string, string>>;
  /** To this socket only, with this channel's join_ref. */
  push(event: string, payload: JsonObject | Uint8Array): void;
  /** To every socket on the topic, on every node, this one included. */
  broadcast(event: string, payload: JsonObject | Uint8Array): void;
  /** Like broadcast, but not to this socket. */
  broadcastFrom(event: string, payload: JsonObject | Uint8Array): void;
  /**
   * A numbered broadcast (a conversation's message `seq`): every node delivers the topic's
   * numbered broadcasts in seq order, whichever node sent them (fanout/seq-orderer.ts).
   */
  broadcastSeq(event: string, payload: JsonObject, seq: number): void;
  /**
   * Each user's own payload, to that user's sockets on this topic on every node; other members
   * get nothing. Only on topics whose handler sets `perRecipient`. With `seq`, ordered like
   * broadcastSeq.
   */
  broadcastEach(event: string, payloads: ReadonlyMap<string, JsonObject>, seq?: number): void;
  readonly presence: ChannelPresence;
}

export type JoinResult<S> =
  | { ok: true; state: S; reply?: JsonObject }
  /** A refused join: Phoenix replies status "error" with this map and sends no phx_close. */
  | { ok: false; reply: JsonObject };

export type HandleResult =
  | { reply: { status: "ok" | "error" | (string & {}); response: JsonObject | Uint8Array } }
  | { noreply: true }
  /** The channel stops by itself: phx_close to the client (Phoenix :normal / :shutdown exits). */
  | { stop: "normal" | "shutdown"; reply?: { status: string; response: JsonObject } };

export type TerminateReason = "leave" | "closed" | "stop" | "crash";

export interface ChannelHandler<S = unknown> {
  /** The topic carries broadcasts addressed per recipient (ctx.broadcastEach). */
  readonly perRecipient?: boolean;
  join(topic: string, params: unknown, ctx: ChannelContext): Promise<JoinResult<S>> | JoinResult<S>;
  /** Runs after the join reply is on the wire (e.g. to push presence_state, PROTOCOL.md §6.4 rule 4). */
  afterJoin?(ctx: ChannelContext, state: S): void | Promise<void>;
  handleIn(
    event: string,
    payload: unknown,
    ctx: ChannelContext,
    state: S,
  ): Promise<HandleResult> | HandleResult;
  /**
   * Runs when the channel ends for any reason but a duplicate join, which in Phoenix kills the
   * channel without running terminate. Errors here are logged and swallowed.
   */
  terminate?(reason: TerminateReason, ctx: ChannelContext, state: S): void | Promise<void>;
}
