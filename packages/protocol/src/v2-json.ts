/**
 * @module The V2 serializer (`vsn=2.0.0`, what phoenix.js speaks): text frames are
 * `[join_ref, ref, topic, event, payload]`; binary payloads use the frames of v2-binary.ts.
 */
import {
  checkedMessage,
  checkJsonValue,
  checkObject,
  checkObjectJson,
  describe,
  INVALID_UTF8,
  malformed,
  PARSE_FAILED,
  parseTextFrame,
  stringifyFrame,
} from "./json-text.js";
import { ControlEvent, type Message, type Payload, type Ref } from "./message.js";
import type { DecodeResult, Frame, Serializer } from "./serializer.js";
import { decodeBinary, encodeBinaryBroadcast, encodeBinaryPush, encodeBinaryReply } from "./v2-binary.js";

function decode(data: string | ArrayBuffer | Uint8Array, isBinary: boolean): DecodeResult {
  if (isBinary) {
    if (typeof data === "string") return malformed("binary frame given as a string");
    return decodeBinary(data instanceof Uint8Array ? data : new Uint8Array(data));
  }
  const v = parseTextFrame(data);
  if (v === INVALID_UTF8) return INVALID_UTF8;
  if (v === PARSE_FAILED) return malformed("text frame is not valid JSON");
  if (!Array.isArray(v)) return malformed(`expected a JSON array, got ${describe(v)}`);
  // Phoenix matches `[join_ref, ref, topic, event, payload | _]`: extra elements are ignored.
  if (v.length < 5) return malformed(`expected an array of at least 5 elements, got ${v.length}`);
  const [joinRef, ref, topic, event, payload] = v as unknown[];
  return checkedMessage(joinRef, ref, topic, event, payload);
}

// Frames with a JSON payload are one JSON.stringify of the whole array: V8's serializer is faster
// than stringifying the parts and concatenating them, and gives byte-identical output.
function text(data: string): Frame {
  return { data, binary: false };
}

function encodeMessage(m: Message): Frame {
  const { joinRef, ref, topic, event, payload } = m;
  if (payload instanceof Uint8Array) {
    return { data: encodeBinaryPush(joinRef, topic, event, payload), binary: true };
  }
  checkObject(payload, "payload");
  return text(stringifyFrame([joinRef, ref, topic, event, payload], "payload"));
}

function encodePush(joinRef: Ref, topic: string, event: string, payload: Payload): Frame {
  if (payload instanceof Uint8Array) {
    return { data: encodeBinaryPush(joinRef, topic, event, payload), binary: true };
  }
  checkObject(payload, "push payload");
  return text(stringifyFrame([joinRef, null, topic, event, payload], "push payload"));
}

function encodeReply(joinRef: Ref, ref: Ref, topic: string, status: string, response: Payload): Frame {
  if (response instanceof Uint8Array) {
    return { data: encodeBinaryReply(joinRef, ref, topic, status, response), binary: true };
  }
  checkJsonValue(response, "reply response");
  return text(
    stringifyFrame([joinRef, ref, topic, ControlEvent.Reply, { status, response }], "reply response"),
  );
}

function encodeBroadcast(topic: string, event: string, payload: Payload): Frame {
  if (payload instanceof Uint8Array) {
    return { data: encodeBinaryBroadcast(topic, event, payload), binary: true };
  }
  checkObject(payload, "broadcast payload");
  return text(stringifyFrame([null, null, topic, event, payload], "broadcast payload"));
}

function encodeBroadcastJson(topic: string, event: string, payloadJson: string): Frame {
  checkObjectJson(payloadJson, "broadcast payload");
  return text(`[null,null,${JSON.stringify(topic)},${JSON.stringify(event)},${payloadJson}]`);
}

export const v2JsonSerializer: Serializer = Object.freeze({
  vsn: "2.0.0",
  decode,
  encodeMessage,
  encodePush,
  encodeReply,
  encodeBroadcast,
  encodeBroadcastJson,
});
