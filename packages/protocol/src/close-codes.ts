/**
 * @module The WebSocket close codes Nexus sends, with their meaning.
 *
 * Reconnects are decided by the client, not by the code's range:
 * - phoenix.js 1.7.x through 1.8.12 reconnect after any close code except 1000;
 * - phoenix.js 1.8.16 reconnects after any close it did not initiate itself, 1000 included.
 * So 1000 is the only code that keeps older clients away, and no code keeps 1.8.16 away: a
 * "terminal" 4xxx code is advisory (for custom clients and logs). To really refuse a client,
 * let it reconnect and answer the upgrade with HTTP 403.
 */
import type { DecodeErrorKind } from "./serializer.js";

export const CloseCode = {
  /** Normal closure. Older clients stay away afterwards; never use it when the client should come back. */
  Normal: 1000,
  /** "disconnect" broadcast on the socket id topic (Phoenix 1.8.10+), e.g. after logout or ban. */
  GoingAway: 1001,
  /** A text frame that is not valid UTF-8 (DecodeError "invalid_utf8"). */
  InvalidUtf8: 1007,
  /** A frame over our 64 KB limit (Phoenix has none; uWS `maxPayloadLength` enforces ours). */
  MessageTooBig: 1009,
  /** Server error, including any malformed frame (DecodeError "malformed"); no reply is sent. */
  ServerError: 1011,
  /** Drain on shutdown or deploy: the client reconnects, through the load balancer, elsewhere. */
  ServiceRestart: 1012,
  /** The connection's credentials expired or were revoked; the reconnect meets a 403 upgrade. */
  Unauthorized: 4401,
  /** The socket exceeded its send backpressure limit (slow consumer) and was cut off. */
  SlowConsumer: 4408,
} as const;
export type CloseCode = (typeof CloseCode)[keyof typeof CloseCode];

/** How the gateway closes after a frame it could not decode (PROTOCOL.md §1). */
export function closeCodeForDecodeError(error: DecodeErrorKind): CloseCode {
  return error === "invalid_utf8" ? CloseCode.InvalidUtf8 : CloseCode.ServerError;
}
