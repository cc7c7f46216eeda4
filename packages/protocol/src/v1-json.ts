/**
 * @module The V1 serializer (no `vsn`, or `~> 1.0.0`): JSON objects, text only. Clients send
 * `{topic, event, payload, ref, join_ref?}`; the server sends `{topic, event, payload, ref}` and
 * never join_ref, so V1 clients cannot filter stale frames and the gateway must not rely on it.
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
import { type DecodeResult, EncodeError, type Frame, type Serializer } from "./serializer.js";

function decode(data: string | ArrayBuffer | Uint8Array, isBinary: boolean): DecodeResult {
  // Phoenix's V1 serializer feeds binary frames to the JSON decoder too, which crashes the socket.
  if (isBinary) return malformed("V1 has no binary frames");
  const v = parseTextFrame(data);
  if (v === INVALID_UTF8) return INVALID_UTF8;
  if (v === PARSE_FAILED) return malformed("text frame is not valid JSON");
  if (typeof v !== "object" || v === null || Array.isArray(v)) {
    return malformed(`expected a JSON object, got ${describe(v)}`);
  }
  // Own keys only, so nothing inherited from Object.prototype can pass for a field.
  const o = v as Record<string, unknown>;
  if (!Object.hasOwn(o, "topic") || !Object.hasOwn(o, "event") || !Object.hasOwn(o, "payload")) {
    return malformed("V1 message needs the keys topic, event and payload");
  }
  // Phoenix uses Map.fetch!(map, "ref"): the key must be there, though its value may be null.
  if (!Object.hasOwn(o, "ref")) return malformed("V1 message needs a ref key (it may be null)");
  const { topic, event, payload, ref } = o;
  const joinRef = Object.hasOwn(o, "join_ref") ? o.join_ref : null;
  return checkedMessage(joinRef, ref, topic, event, payload);
}

// Key order as Phoenix's tests print it; JSON.stringify of a fresh literal is V8's fastest path.
function text(topic: string, event: string, payload: unknown, ref: Ref, what: string): Frame {
  return { data: stringifyFrame({ topic, event, payload, ref }, what), binary: false };
}

function noBinary(payload: Payload): void {
  if (payload instanceof Uint8Array) {
    throw new EncodeError("binary_unsupported", "V1 clients cannot receive binary payloads");
  }
}

function encodeMessage(m: Message): Frame {
  noBinary(m.payload);
  checkObject(m.payload, "payload");
  return text(m.topic, m.event, m.payload, m.ref, "payload");
}

function encodePush(_joinRef: Ref, topic: string, event: string, payload: Payload): Frame {
  noBinary(payload);
  checkObject(payload, "push payload");
  return text(topic, event, payload, null, "push payload");
}

function encodeReply(_joinRef: Ref, ref: Ref, topic: string, status: string, response: Payload): Frame {
  noBinary(response);
  checkJsonValue(response, "reply response");
  return text(topic, ControlEvent.Reply, { status, response }, ref, "reply response");
}

function encodeBroadcast(topic: string, event: string, payload: Payload): Frame {
  noBinary(payload);
  checkObject(payload, "broadcast payload");
  return text(topic, event, payload, null, "broadcast payload");
}

function encodeBroadcastJson(topic: string, event: string, payloadJson: string): Frame {
  checkObjectJson(payloadJson, "broadcast payload");
  const head = `{"topic":${JSON.stringify(topic)},"event":${JSON.stringify(event)}`;
  return { data: `${head},"payload":${payloadJson},"ref":null}`, binary: false };
}

export const v1JsonSerializer: Serializer = Object.freeze({
  vsn: "1.0.0",
  decode,
  encodeMessage,
  encodePush,
  encodeReply,
  encodeBroadcast,
  encodeBroadcastJson,
});
