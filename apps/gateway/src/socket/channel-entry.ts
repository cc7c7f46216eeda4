/**
 * @module
 * One joined topic on one socket: its join_ref, the handler's state, and a queue that keeps
 * the channel's events, replies and termination in order (Phoenix runs each channel as its
 * own process, so one slow handle_in never blocks another channel or the heartbeat).
 */
import type { Tracker } from "@nexus/presence";
import type { Ref } from "@nexus/protocol";
import type { ChannelContext, ChannelHandler, JsonObject } from "../channels/channel.js";
import { SerialQueue } from "./serial-queue.js";

export interface EntryHost {
  readonly userId: string;
  readonly params: Readonly<Record<string, string>>;
  push(entry: ChannelEntry, event: string, payload: JsonObject | Uint8Array): void;
  broadcast(topic: string, event: string, payload: JsonObject | Uint8Array, exceptSelf: boolean): void;
  broadcastSeq(topic: string, event: string, payload: JsonObject, seq: number): void;
  onQueueError(entry: ChannelEntry, e: unknown): void;
  readonly presence: Tracker;
}

// Presence owners must be unique on this node; a counter is cheaper than a UUID per join.
let nextOwner = 0;

export class ChannelEntry {
  state: unknown = undefined;
  /** Set once the channel has ended; queued work and late replies check it and do nothing. */
  dead = false;
  readonly queue: SerialQueue;
  readonly ctx: ChannelContext;
  readonly #owner = `c${++nextOwner}`;
  #watching = false;
  #tracked = false;
  readonly #tracker: Tracker;

  constructor(
    readonly topic: string,
    readonly joinRef: Ref,
    readonly handler: ChannelHandler,
    host: EntryHost,
  ) {
    this.queue = new SerialQueue((e) => host.onQueueError(this, e));
    this.#tracker = host.presence;
    const entry = this;
    const tracker = host.presence;
    const owner = this.#owner;
    this.ctx = {
      userId: host.userId,
      topic,
      params: host.params,
      push(event, payload) {
        if (!entry.dead) host.push(entry, event, payload);
      },
      broadcast(event, payload) {
        host.broadcast(topic, event, payload, false);
      },
      broadcastFrom(event, payload) {
        host.broadcast(topic, event, payload, true);
      },
      broadcastSeq(event, payload, seq) {
        host.broadcastSeq(topic, event, payload, seq);
      },
      presence: {
        async watch() {
          if (entry.dead || entry.#watching) return;
          // Flag first: if the channel ends while the watch is pending, release() still unwatches.
          entry.#watching = true;
          await tracker.watch(topic);
        },
        list: () => tracker.list(topic),
        track(key, meta) {
          if (entry.dead || entry.#tracked) return;
          if (tracker.track(topic, key, owner, meta).ok) entry.#tracked = true;
        },
        update(key, meta) {
          if (!entry.dead && entry.#tracked) tracker.update(topic, key, owner, meta);
        },
      },
    };
  }

  /** The channel ended: what it tracked leaves (one diff), and this node stops following the topic for it. */
  releasePresence(): void {
    if (this.#tracked) this.#tracker.untrack(this.topic, this.#owner);
    if (this.#watching) this.#tracker.unwatch(this.topic);
    this.#tracked = false;
    this.#watching = false;
  }
}
