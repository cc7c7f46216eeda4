/**
 * @module V2 binary frames (PROTOCOL.md §2): a kind byte, one length byte per header string, the
 * strings (UTF-8, ≤255 bytes each), then the raw payload.
 */
import { allocBytes, copyFrom } from "./bytes.js";
import { malformed } from "./json-text.js";
import type { Ref } from "./message.js";
import { type DecodeResult, EncodeError } from "./serializer.js";
import { readUtf8, utf8Length, writeUtf8 } from "./utf8.js";

export const BinaryKind = { Push: 0, Reply: 1, Broadcast: 2 } as const;

const MAX_FIELD = 255;
/** Client push header: kind, len(join_ref), len(ref), len(topic), len(event). */
const PUSH_IN_HEADER = 5;

/**
 * Decodes a client frame. Only kind 0 (push) may come from a client. An empty join_ref or ref
 * field means null: the JS client only sends binary after joining, so both are set in practice.
 */
export function decodeBinary(bytes: Uint8Array): DecodeResult {
  const size = bytes.length;
  if (size < PUSH_IN_HEADER) return malformed(`binary frame of ${size} bytes is shorter than its header`);
  const kind = bytes[0]!;
  if (kind !== BinaryKind.Push) return malformed(`binary frame kind ${kind} is not accepted from clients`);
  const joinRefEnd = PUSH_IN_HEADER + bytes[1]!;
  const refEnd = joinRefEnd + bytes[2]!;
  const topicEnd = refEnd + bytes[3]!;
  const eventEnd = topicEnd + bytes[4]!;
  if (eventEnd > size) return malformed(`binary header needs ${eventEnd} bytes, frame has ${size}`);
  if (topicEnd === refEnd) return malformed("binary frame has an empty topic");
  if (eventEnd === topicEnd) return malformed("binary frame has an empty event");

  const joinRef = joinRefEnd === PUSH_IN_HEADER ? null : readUtf8(bytes, PUSH_IN_HEADER, joinRefEnd);
  const ref = refEnd === joinRefEnd ? null : readUtf8(bytes, joinRefEnd, refEnd);
  const topic = readUtf8(bytes, refEnd, topicEnd);
  const event = readUtf8(bytes, topicEnd, eventEnd);
  // A null from readUtf8 on a non-empty field means invalid UTF-8. It is "malformed" (1011), not
  // 1007: the frame is binary, and Phoenix would crash on such a header rather than reject it.
  if (
    (joinRef === null && joinRefEnd !== PUSH_IN_HEADER) ||
    (ref === null && refEnd !== joinRefEnd) ||
    topic === null ||
    event === null
  ) {
    return malformed("binary header field is not valid UTF-8");
  }
  // A copy, not a view: uWS reuses the frame's memory once the message handler returns.
  return { ok: true, message: { joinRef, ref, topic, event, payload: copyFrom(bytes, eventEnd) } };
}

/** Kind 0, client → server: `0, len(jr), len(ref), len(topic), len(event)`. For client-side code. */
export function encodeBinaryClientPush(
  joinRef: Ref,
  ref: Ref,
  topic: string,
  event: string,
  data: Uint8Array,
): Uint8Array {
  return encode(BinaryKind.Push, refField(joinRef), refField(ref), topic, event, data, CLIENT_PUSH_FIELDS);
}

/** Kind 0, server → client: `0, len(jr), len(topic), len(event)`, no ref. */
export function encodeBinaryPush(joinRef: Ref, topic: string, event: string, data: Uint8Array): Uint8Array {
  return encode(BinaryKind.Push, refField(joinRef), topic, event, undefined, data, PUSH_FIELDS);
}

/** Kind 1: `1, len(jr), len(ref), len(topic), len(status)`; the client sees `{status, response: bytes}`. */
export function encodeBinaryReply(
  joinRef: Ref,
  ref: Ref,
  topic: string,
  status: string,
  data: Uint8Array,
): Uint8Array {
  return encode(BinaryKind.Reply, refField(joinRef), refField(ref), topic, status, data, REPLY_FIELDS);
}

/** Kind 2: `2, len(topic), len(event)`. */
export function encodeBinaryBroadcast(topic: string, event: string, data: Uint8Array): Uint8Array {
  return encode(BinaryKind.Broadcast, topic, event, undefined, undefined, data, BROADCAST_FIELDS);
}

const CLIENT_PUSH_FIELDS = ["join_ref", "ref", "topic", "event"] as const;
const PUSH_FIELDS = ["join_ref", "topic", "event"] as const;
const REPLY_FIELDS = ["join_ref", "ref", "topic", "status"] as const;
const BROADCAST_FIELDS = ["topic", "event"] as const;

function refField(ref: Ref): string {
  if (ref === null) return "";
  return typeof ref === "string" ? ref : String(ref);
}

/**
 * One allocation for the whole frame. Fields are positional (not an array) so the hot path
 * allocates nothing but the result; `names` only feeds the error message.
 */
function encode(
  kind: number,
  f0: string,
  f1: string,
  f2: string | undefined,
  f3: string | undefined,
  data: Uint8Array,
  names: readonly string[],
): Uint8Array {
  const l0 = fieldLength(f0, names[0]);
  const l1 = fieldLength(f1, names[1]);
  const l2 = f2 === undefined ? 0 : fieldLength(f2, names[2]);
  const l3 = f3 === undefined ? 0 : fieldLength(f3, names[3]);
  const count = f2 === undefined ? 2 : f3 === undefined ? 3 : 4;
  const header = 1 + count;
  const out = allocBytes(header + l0 + l1 + l2 + l3 + data.length);
  out[0] = kind;
  out[1] = l0;
  out[2] = l1;
  if (f2 !== undefined) out[3] = l2;
  if (f3 !== undefined) out[4] = l3;
  let offset = writeUtf8(f0, out, header, l0);
  offset = writeUtf8(f1, out, offset, l1);
  if (f2 !== undefined) offset = writeUtf8(f2, out, offset, l2);
  if (f3 !== undefined) offset = writeUtf8(f3, out, offset, l3);
  out.set(data, offset);
  return out;
}

function fieldLength(s: string, name: string | undefined): number {
  // Every UTF-16 unit is at least one byte, so a long string fails without being scanned.
  const n = s.length > MAX_FIELD ? s.length : utf8Length(s);
  if (n > MAX_FIELD) {
    throw new EncodeError("header_too_long", `binary ${name} is over 255 bytes of UTF-8 (the header limit)`);
  }
  return n;
}
