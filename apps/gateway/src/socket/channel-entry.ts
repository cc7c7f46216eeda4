/**
 * @module
 * One joined topic on one socket: its join_ref, the handler's state, and a queue that keeps
 * the channel's events, replies and termination in order (Phoenix runs each channel as its
 * own process, so one slow handle_in never blocks another channel or the heartbeat).
 */
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
}

export class ChannelEntry {
  state: unknown = undefined;
  /** Set once the channel has ended; queued work and late replies check it and do nothing. */
  dead = false;
  readonly queue: SerialQueue;
  readonly ctx: ChannelContext;

  constructor(
    readonly topic: string,
    readonly joinRef: Ref,
    readonly handler: ChannelHandler,
    host: EntryHost,
  ) {
    this.queue = new SerialQueue((e) => host.onQueueError(this, e));
    const entry = this;
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
    };
  }
}
