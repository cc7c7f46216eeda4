/**
 * @module
 * One joined topic on one socket: its join_ref, the handler's state, and a queue that keeps
 * the channel's events, replies and termination in order (Phoenix runs each channel as its
 * own process, so one slow handle_in never blocks another channel or the heartbeat).
 *
 * The entry is itself the channel's queue, its context and its presence handle: every method
 * lives on the prototype, so a joined channel is one object of a handful of fields rather than
 * several objects and a dozen closures (idle sockets are the gateway's memory bill).
 */
import type { Meta, PresenceMap, Tracker } from "@nexus/presence";
import type { Ref } from "@nexus/protocol";
import type { ChannelContext, ChannelHandler, ChannelPresence, JsonObject } from "../channels/channel.js";
import { SerialQueue } from "./serial-queue.js";

export interface EntryHost {
  readonly userId: string;
  readonly params: Readonly<Record<string, string>>;
  push(entry: ChannelEntry, event: string, payload: JsonObject | Uint8Array): void;
  broadcast(topic: string, event: string, payload: JsonObject | Uint8Array, exceptSelf: boolean): void;
  broadcastSeq(topic: string, event: string, payload: JsonObject, seq: number): void;
  broadcastEach(topic: string, event: string, payloads: ReadonlyMap<string, JsonObject>, seq?: number): void;
  onQueueError(entry: ChannelEntry, e: unknown): void;
  readonly presence: Tracker;
}

/**
 * The entry is also the owner of what its channel tracks in presence: owners must be unique on
 * this node, and the entry itself is, at no cost.
 */
export class ChannelEntry extends SerialQueue implements ChannelContext, ChannelPresence {
  state: unknown = undefined;
  /** Set once the channel has ended; queued work and late replies check it and do nothing. */
  dead = false;
  readonly #host: EntryHost;
  #watching = false;
  #tracked = false;

  constructor(
    readonly topic: string,
    readonly joinRef: Ref,
    readonly handler: ChannelHandler,
    host: EntryHost,
  ) {
    super();
    this.#host = host;
  }

  protected onTaskError(e: unknown): void {
    this.#host.onQueueError(this, e);
  }

  /** What the handler sees: this entry, through the ChannelContext interface. */
  get ctx(): ChannelContext {
    return this;
  }

  // ChannelContext
  get userId(): string {
    return this.#host.userId;
  }
  get params(): Readonly<Record<string, string>> {
    return this.#host.params;
  }
  get presence(): ChannelPresence {
    return this;
  }
  push(event: string, payload: JsonObject | Uint8Array): void {
    if (!this.dead) this.#host.push(this, event, payload);
  }
  broadcast(event: string, payload: JsonObject | Uint8Array): void {
    this.#host.broadcast(this.topic, event, payload, false);
  }
  broadcastFrom(event: string, payload: JsonObject | Uint8Array): void {
    this.#host.broadcast(this.topic, event, payload, true);
  }
  broadcastSeq(event: string, payload: JsonObject, seq: number): void {
    this.#host.broadcastSeq(this.topic, event, payload, seq);
  }
  broadcastEach(event: string, payloads: ReadonlyMap<string, JsonObject>, seq?: number): void {
    if (!this.handler.perRecipient)
      throw new Error(`${this.topic}: broadcastEach needs a perRecipient handler`);
    this.#host.broadcastEach(this.topic, event, payloads, seq);
  }

  // ChannelPresence
  async watch(): Promise<void> {
    if (this.dead || this.#watching) return;
    // Flag first: if the channel ends while the watch is pending, releasePresence() still unwatches.
    this.#watching = true;
    await this.#host.presence.watch(this.topic);
  }
  list(): PresenceMap {
    return this.#host.presence.list(this.topic);
  }
  track(key: string, meta: Meta): void {
    if (this.dead || this.#tracked) return;
    if (this.#host.presence.track(this.topic, key, this, meta).ok) this.#tracked = true;
  }
  update(key: string, meta: Meta): void {
    if (!this.dead && this.#tracked) this.#host.presence.update(this.topic, key, this, meta);
  }

  untrack(): void {
    if (!this.#tracked) return;
    this.#tracked = false;
    this.#host.presence.untrack(this.topic, this);
  }

  /** The channel ended: what it tracked leaves (one diff), and this node stops following the topic for it. */
  releasePresence(): void {
    if (this.#tracked) this.#host.presence.untrack(this.topic, this);
    if (this.#watching) this.#host.presence.unwatch(this.topic);
    this.#tracked = false;
    this.#watching = false;
  }
}
