/** @module The Serializer seam: one implementation per `vsn`, chosen once per connection. */
import type { Message, Payload, Ref } from "./message.js";

/**
 * Why a frame could not be decoded. The gateway closes the socket without a reply (Phoenix crashes
 * the socket process): `invalid_utf8` → 1007, `malformed` → 1011 (see `closeCodeForDecodeError`).
 */
export type DecodeErrorKind = "invalid_utf8" | "malformed";

export interface DecodeError {
  ok: false;
  error: DecodeErrorKind;
  /** For logs only; never echoes client data, so it stays short and safe to print. */
  detail: string;
}

export type DecodeResult = { ok: true; message: Message } | DecodeError;

/**
 * Ready to hand to `ws.send(data, binary)`; never mutated, so one frame can go to many sockets.
 * Binary data may be a view into a pooled slab: honour byteOffset/byteLength, never use `.buffer` alone.
 */
export type Frame = { data: string; binary: false } | { data: Uint8Array; binary: true };

export type EncodeErrorKind =
  /** A V2 binary header field (join_ref, ref, topic, event, status) is over 255 bytes of UTF-8. */
  | "header_too_long"
  /** A binary payload on V1, which has no binary frames. */
  | "binary_unsupported"
  /** Push and broadcast payloads must be JSON objects (or binary), as Phoenix requires maps. */
  | "not_an_object"
  /** `JSON.stringify` threw (BigInt, cycle) or produced nothing (`undefined`, a function). */
  | "not_serializable";

/**
 * Thrown by the `encode*` methods. Encoding only fails on what the server itself chose to send
 * (app payloads, or a topic/event too long for a binary header), so it is a bug in the caller,
 * not a client fault. It is still worth catching once around app-supplied payloads: Phoenix
 * treats it as a crash of that channel (phx_error), not of the whole socket.
 */
export class EncodeError extends Error {
  override readonly name = "EncodeError";
  constructor(
    readonly kind: EncodeErrorKind,
    message: string,
  ) {
    super(message);
  }
}

export type Vsn = "1.0.0" | "2.0.0";

export interface Serializer {
  readonly vsn: Vsn;
  /**
   * Never throws. `isBinary` is the WebSocket opcode (or "this LongPoll line was base64").
   * Text may arrive as bytes (uWS hands out ArrayBuffers) and is UTF-8 validated here.
   * A binary payload is copied out, so the input buffer may be reused once this returns.
   */
  decode(data: string | ArrayBuffer | Uint8Array, isBinary: boolean): DecodeResult;
  /**
   * Any server → client message, including `phx_close`/`phx_error` (whose ref is the join_ref).
   * A binary payload becomes a V2 kind-0 push frame, which has no ref field.
   */
  encodeMessage(message: Message): Frame;
  /** A channel push: ref is null and join_ref is the channel's. */
  encodePush(joinRef: Ref, topic: string, event: string, payload: Payload): Frame;
  /** A `phx_reply` whose payload is `{status, response}`; a binary response is a V2 kind-1 frame. */
  encodeReply(joinRef: Ref, ref: Ref, topic: string, status: string, response: Payload): Frame;
  /** Depends on no socket (join_ref and ref are null), so encode once and send to every subscriber. */
  encodeBroadcast(topic: string, event: string, payload: Payload): Frame;
  /**
   * Same frame as `encodeBroadcast(topic, event, JSON.parse(payloadJson))`, built by concatenation:
   * for broadcasts that arrive from other nodes with their payload already serialized. The text is
   * trusted to be valid JSON (it came from our own JSON.stringify); only its leading `{` is checked.
   */
  encodeBroadcastJson(topic: string, event: string, payloadJson: string): Frame;
}
