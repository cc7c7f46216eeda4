/**
 * @module
 * One Phoenix socket: the server side of PROTOCOL.md §3–§4. Frames are handled in arrival
 * order; a join blocks the socket's later frames (heartbeats excepted) until it has been
 * answered, as in Phoenix, so a client's "join then push" can never overtake itself.
 */

import type { Tracker } from "@nexus/presence";
import {
  CloseCode,
  ControlEvent,
  closeCodeForDecodeError,
  type Message,
  PHOENIX_TOPIC,
  PhoenixReason,
  type Ref,
  type Serializer,
} from "@nexus/protocol";
import type {
  ChannelContext,
  HandleResult,
  JoinResult,
  JsonObject,
  TerminateReason,
} from "../channels/channel.js";
import type { Router } from "../channels/router.js";
import type { Fanout } from "../fanout/fanout.js";
import { ChannelEntry, type EntryHost } from "./channel-entry.js";
import {
  type ChannelTable,
  channelCount,
  channelList,
  deleteChannel,
  getChannel,
  setChannel,
} from "./channel-table.js";
import { type Connection, SendStatus } from "./connection.js";

export interface SessionLogger {
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface SessionDeps {
  router: Router;
  fanout: Fanout;
  log: SessionLogger;
  maxChannels: number;
  /** Counts frames uWS dropped for this socket because it was over its backpressure limit. */
  onDropped(): void;
  presence: Tracker;
}

const EMPTY = Object.freeze({}) as JsonObject;

/** Work the node runs in a channel on the cluster's behalf; "stop" ends the channel (phx_close). */
export type ChannelTask = (
  ctx: ChannelContext,
  state: unknown,
) => undefined | "stop" | Promise<undefined | "stop">;

/**
 * Created when the upgrade is accepted, before the socket exists (so that it is the only thing
 * the uWS socket carries); `open` hands it the connection before any frame arrives.
 */
export class Session implements EntryHost {
  private conn!: Connection;
  #channels: ChannelTable;
  /** Left by the client but still finishing queued work; ended with the socket if it closes first. */
  #leaving: Set<ChannelEntry> | undefined;
  /** Frames that arrived while a join was being decided; undefined = not blocked. */
  #blocked: Message[] | undefined;
  #closed = false;
  /** Sends uWS refused because this socket was over its backpressure limit (it then closes it). */
  refusedSends = 0;

  constructor(
    private readonly serializer: Serializer,
    readonly userId: string,
    readonly params: Readonly<Record<string, string>>,
    private readonly deps: SessionDeps,
  ) {}

  open(conn: Connection): void {
    this.conn = conn;
  }

  get presence(): Tracker {
    return this.deps.presence;
  }

  get channelCount(): number {
    return channelCount(this.#channels);
  }

  receive(data: ArrayBuffer, isBinary: boolean): void {
    // Frames that arrive in the same read as one that closed the socket are not processed.
    if (this.#closed) return;
    const decoded = this.serializer.decode(data, isBinary);
    if (!decoded.ok) {
      // Phoenix crashes the socket on a malformed frame: no reply, close 1011 (1007 for bad UTF-8).
      this.conn.end(closeCodeForDecodeError(decoded.error), decoded.error);
      return;
    }
    const msg = decoded.message;
    if (msg.topic === PHOENIX_TOPIC && msg.event === ControlEvent.Heartbeat) {
      this.#reply(null, msg.ref, PHOENIX_TOPIC, "ok", EMPTY);
      return;
    }
    if (this.#blocked) {
      this.#blocked.push(msg);
      return;
    }
    this.#dispatch(msg);
  }

  /** The transport closed: end every channel (their presences leave, subscriptions drop). */
  closed(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#blocked = undefined;
    for (const entry of channelList(this.#channels)) this.#end(entry, "closed", true);
    for (const entry of this.#leaving ?? []) this.#end(entry, "closed", true);
    this.#channels = undefined;
  }

  /**
   * Runs `fn` in the queue of each joined channel whose topic `matches`, after whatever the
   * channel is already doing (the node acting on a cluster event: a member removed, a profile
   * hidden). A `stop` result ends the channel with phx_close, as if it had returned it itself.
   */
  withChannels(matches: (topic: string) => boolean, fn: ChannelTask): number {
    let n = 0;
    for (const entry of channelList(this.#channels)) {
      if (!matches(entry.topic)) continue;
      n++;
      entry.run(async () => {
        if (entry.dead) return;
        const result = await fn(entry.ctx, entry.state);
        if (result && !entry.dead && !this.#closed && getChannel(this.#channels, entry.topic) === entry) {
          this.#stop(entry);
        }
      });
    }
    return n;
  }

  #dispatch(msg: Message): void {
    switch (msg.event) {
      case ControlEvent.Join:
        this.#join(msg);
        return;
      case ControlEvent.Leave:
        this.#leave(msg);
        return;
      default:
        this.#event(msg);
    }
  }

  #join(msg: Message): void {
    const { topic } = msg;
    const handler = this.deps.router.route(topic);
    if (!handler) {
      this.#reply(null, msg.ref, topic, "error", { reason: PhoenixReason.UnmatchedTopic });
      return;
    }
    const previous = getChannel(this.#channels, topic);
    if (!previous && channelCount(this.#channels) >= this.deps.maxChannels) {
      this.#reply(msg.joinRef, msg.ref, topic, "error", { reason: PhoenixReason.TooManyChannels });
      return;
    }
    if (previous) {
      // Duplicate join: Phoenix kills the old channel without its terminate callback; the
      // client learns of it by a phx_close for the old join_ref, sent after the new reply.
      this.#channels = deleteChannel(this.#channels, topic);
      this.#end(previous, "closed", false);
    }
    // Every member of a room on this node shares one copy of its topic string.
    const entry = new ChannelEntry(this.deps.fanout.intern(topic), msg.joinRef, handler, this);
    this.#blocked = [];
    void this.#runJoin(entry, msg, previous?.joinRef)
      .catch((e) => this.#socketCrashed(e, topic))
      .finally(() => this.#unblock());
  }

  /**
   * The join reply could not be encoded (the app's reply is not JSON). Phoenix encodes it in the
   * socket process, so the socket crashes: close 1011, which the client answers by reconnecting.
   */
  #socketCrashed(e: unknown, topic: string): void {
    this.deps.log.error({ err: e, topic, userId: this.userId }, "socket crashed");
    if (!this.#closed) this.conn.end(CloseCode.ServerError, "server error");
  }

  async #runJoin(entry: ChannelEntry, msg: Message, replacedJoinRef: Ref | undefined): Promise<void> {
    const { topic } = entry;
    let result: JoinResult<unknown> | "crashed";
    try {
      result = await entry.handler.join(topic, msg.payload, entry.ctx);
    } catch (e) {
      this.deps.log.error({ err: e, topic, userId: this.userId }, "join crashed");
      result = "crashed";
    }
    if (result !== "crashed" && result.ok) {
      entry.state = result.state;
      // Subscribe before replying (PROTOCOL.md §4 step 2): anything broadcast after the
      // client sees "ok" must reach it, including from other nodes.
      try {
        await this.deps.fanout.acquire(topic);
      } catch (e) {
        this.deps.log.error({ err: e, topic }, "could not subscribe to the topic");
        result = "crashed";
      }
      if (result !== "crashed" && this.#closed) {
        this.deps.fanout.release(topic);
        void this.#terminate(entry, "closed");
        return;
      }
    }
    if (this.#closed) return;
    const replyResult = result;
    this.conn.cork(() => {
      if (replyResult === "crashed") {
        this.#reply(msg.joinRef, msg.ref, topic, "error", { reason: PhoenixReason.JoinCrashed });
      } else if (!replyResult.ok) {
        this.#reply(msg.joinRef, msg.ref, topic, "error", replyResult.reply);
      } else {
        this.#channels = setChannel(this.#channels, topic, entry);
        this.conn.subscribe(this.deps.fanout.localTopic(this.serializer.vsn, topic));
        if (entry.handler.perRecipient) {
          this.conn.subscribe(this.deps.fanout.recipientTopic(this.serializer.vsn, topic, this.userId));
        }
        this.#reply(msg.joinRef, msg.ref, topic, "ok", replyResult.reply ?? EMPTY);
      }
      if (replacedJoinRef !== undefined) this.#control(replacedJoinRef, topic, ControlEvent.Close, EMPTY);
    });
    if (replyResult !== "crashed" && replyResult.ok && entry.handler.afterJoin) {
      entry.run(() => (entry.dead ? undefined : entry.handler.afterJoin!(entry.ctx, entry.state)));
    }
  }

  #unblock(): void {
    let backlog = this.#blocked;
    this.#blocked = undefined;
    while (backlog && backlog.length > 0 && !this.#closed) {
      this.#dispatch(backlog.shift()!);
      if (this.#blocked) {
        // Another join blocked the socket again: the rest waits behind it, still in order.
        (this.#blocked as Message[]).push(...backlog);
        backlog = undefined;
      }
    }
  }

  #leave(msg: Message): void {
    const entry = getChannel(this.#channels, msg.topic);
    if (!entry) {
      // Not joined (or already gone): Phoenix answers ok, not "unmatched topic".
      this.#reply(msg.joinRef, msg.ref, msg.topic, "ok", EMPTY);
      return;
    }
    // The client raced a server-side close and is leaving an older incarnation: ignore.
    if (isStale(msg, entry)) return;
    this.#channels = deleteChannel(this.#channels, msg.topic);
    this.#leaving ??= new Set();
    this.#leaving.add(entry);
    entry.run(() => {
      if (entry.dead) return;
      if (!this.#closed) {
        this.conn.cork(() => {
          this.#reply(entry.joinRef, msg.ref, entry.topic, "ok", EMPTY);
          this.#control(entry.joinRef, entry.topic, ControlEvent.Close, EMPTY);
        });
      }
      this.#end(entry, "leave", true);
    });
  }

  #event(msg: Message): void {
    const entry = getChannel(this.#channels, msg.topic);
    if (!entry) {
      this.#reply(null, msg.ref, msg.topic, "error", { reason: PhoenixReason.UnmatchedTopic });
      return;
    }
    if (isStale(msg, entry)) return; // drop silently: the client raced a server-side close
    entry.run(() => {
      if (entry.dead) return;
      let out: HandleResult | Promise<HandleResult>;
      try {
        out = entry.handler.handleIn(msg.event, msg.payload, entry.ctx, entry.state);
      } catch (e) {
        this.#crash(entry, e, msg.event);
        return;
      }
      if (out instanceof Promise) {
        return out.then(
          (r) => this.#handled(entry, msg, r),
          (e) => this.#crash(entry, e, msg.event),
        );
      }
      this.#handled(entry, msg, out);
    });
  }

  #handled(entry: ChannelEntry, msg: Message, result: HandleResult): void {
    if (entry.dead || this.#closed) return;
    if ("reply" in result && result.reply) {
      this.conn.cork(() =>
        this.#reply(entry.joinRef, msg.ref, entry.topic, result.reply!.status, result.reply!.response),
      );
    }
    if ("stop" in result) this.#stop(entry);
  }

  /** The channel stops by itself (Phoenix :normal / :shutdown): phx_close, then it ends. */
  #stop(entry: ChannelEntry): void {
    this.#channels = deleteChannel(this.#channels, entry.topic);
    this.conn.cork(() => this.#control(entry.joinRef, entry.topic, ControlEvent.Close, EMPTY));
    this.#end(entry, "stop", true);
  }

  #crash(entry: ChannelEntry, e: unknown, event: string): void {
    this.deps.log.error({ err: e, topic: entry.topic, event, userId: this.userId }, "channel crashed");
    if (entry.dead) return;
    if (getChannel(this.#channels, entry.topic) === entry)
      this.#channels = deleteChannel(this.#channels, entry.topic);
    if (!this.#closed) {
      this.conn.cork(() =>
        this.#control(entry.joinRef, entry.topic, ControlEvent.Error, { reason: PhoenixReason.ChannelCrash }),
      );
    }
    this.#end(entry, "crash", true);
  }

  /** Ends a channel: stops its queue, drops its subscriptions, optionally runs terminate. */
  #end(entry: ChannelEntry, reason: TerminateReason, runTerminate: boolean): void {
    if (entry.dead) return;
    entry.dead = true;
    this.#leaving?.delete(entry);
    // A channel that finishes leaving after the client already joined the topic again shares
    // the socket's one uWS subscription with the new channel: keep it for that one.
    if (!this.#closed && !getChannel(this.#channels, entry.topic)) {
      this.conn.unsubscribe(this.deps.fanout.localTopic(this.serializer.vsn, entry.topic));
      if (entry.handler.perRecipient) {
        this.conn.unsubscribe(this.deps.fanout.recipientTopic(this.serializer.vsn, entry.topic, this.userId));
      }
    }
    this.deps.fanout.release(entry.topic);
    entry.releasePresence();
    if (runTerminate) void this.#terminate(entry, reason);
  }

  async #terminate(entry: ChannelEntry, reason: TerminateReason): Promise<void> {
    entry.dead = true;
    try {
      await entry.handler.terminate?.(reason, entry.ctx, entry.state);
    } catch (e) {
      this.deps.log.warn({ err: e, topic: entry.topic }, "terminate failed");
    }
  }

  // EntryHost: what a channel's context may do.
  push(entry: ChannelEntry, event: string, payload: JsonObject | Uint8Array): void {
    if (this.#closed) return;
    this.conn.cork(() => this.#send(this.serializer.encodePush(entry.joinRef, entry.topic, event, payload)));
  }

  broadcastSeq(topic: string, event: string, payload: JsonObject, seq: number): void {
    this.deps.fanout.broadcastSeq(topic, event, payload, seq);
  }

  broadcastEach(topic: string, event: string, payloads: ReadonlyMap<string, JsonObject>, seq?: number): void {
    this.deps.fanout.broadcastEach(topic, event, payloads, seq);
  }

  broadcast(topic: string, event: string, payload: JsonObject | Uint8Array, exceptSelf: boolean): void {
    this.deps.fanout.broadcast(topic, event, payload, exceptSelf && !this.#closed ? this.conn : undefined);
  }

  onQueueError(entry: ChannelEntry, e: unknown): void {
    this.#crash(entry, e, "queue");
  }

  #reply(joinRef: Ref, ref: Ref, topic: string, status: string, response: JsonObject | Uint8Array): void {
    this.#send(this.serializer.encodeReply(joinRef, ref, topic, status, response));
  }

  /** phx_close / phx_error: ref = join_ref (PROTOCOL.md §2). */
  #control(joinRef: Ref, topic: string, event: string, payload: JsonObject): void {
    this.#send(this.serializer.encodeMessage({ joinRef, ref: joinRef, topic, event, payload }));
  }

  #send(frame: ReturnType<Serializer["encodeReply"]>): void {
    if (this.#closed) return;
    if (this.conn.send(frame.data, frame.binary) === SendStatus.Dropped) {
      this.refusedSends++;
      this.deps.onDropped();
    }
  }
}

/**
 * A message for an older incarnation of the channel. A null join_ref always matches (V1 clients,
 * and V2 clients that omit it); a channel joined without a join_ref (V1) matches every message,
 * as Phoenix's `existing_join_ref in [nil, join_ref]` does.
 */
function isStale(msg: Message, entry: ChannelEntry): boolean {
  return msg.joinRef !== null && entry.joinRef !== null && msg.joinRef !== entry.joinRef;
}
