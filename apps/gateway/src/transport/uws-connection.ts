/** @module Connection over a uWS WebSocket. The only file in socket handling that touches uWS. */
import type { WebSocket } from "@nexus/http";
import type { Frame } from "@nexus/protocol";
import { type Connection, SendStatus } from "../socket/connection.js";

/** The app-wide publish (every subscriber of the topic, no exception). */
export type PublishAll = (localTopic: string, data: string | Uint8Array, binary: boolean) => void;

export class UwsConnection<D> implements Connection {
  /** Sends uWS refused because this socket was over its backpressure limit (it then closes it). */
  refusedSends = 0;

  constructor(
    private readonly ws: WebSocket<D>,
    private readonly publishAll: PublishAll,
  ) {}

  send(frame: Frame): SendStatus {
    const status = this.ws.send(frame.data, frame.binary) as SendStatus;
    if (status === SendStatus.Dropped) this.refusedSends++;
    return status;
  }
  subscribe(localTopic: string): void {
    this.ws.subscribe(localTopic);
  }
  unsubscribe(localTopic: string): void {
    this.ws.unsubscribe(localTopic);
  }
  publishFrom(localTopic: string, frame: Frame): void {
    // uWS's ws.publish silently publishes nothing when the sender holds no subscription at all
    // (e.g. broadcast_from in a first join, or in terminate after the last leave). A socket not
    // subscribed to this topic would not get an app-wide publish anyway, so use that instead.
    if (this.ws.isSubscribed(localTopic)) this.ws.publish(localTopic, frame.data, frame.binary);
    else this.publishAll(localTopic, frame.data, frame.binary);
  }
  cork(fn: () => void): void {
    this.ws.cork(fn);
  }
  close(code: number, reason: string): void {
    this.ws.end(code, reason);
  }
}
