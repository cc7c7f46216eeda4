/**
 * @module The client's side of V2, as phoenix.js speaks it: for tests, the conformance suite and
 * the load generator, which must produce and read frames independently of the server's decoder.
 * Unlike the server side it throws on bad input, since a bad server frame fails the test anyway.
 */
import { ControlEvent, type Message, type Ref } from "./message.js";
import type { Frame } from "./serializer.js";
import { BinaryKind, encodeBinaryClientPush } from "./v2-binary.js";

/** A text frame `[jr, ref, topic, event, payload]`, or a kind-0 binary push for a Uint8Array payload. */
export function encodeClientMessage(m: Message): Frame {
  if (m.payload instanceof Uint8Array) {
    return { data: encodeBinaryClientPush(m.joinRef, m.ref, m.topic, m.event, m.payload), binary: true };
  }
  return { data: JSON.stringify([m.joinRef, m.ref, m.topic, m.event, m.payload]), binary: false };
}

const decoder = new TextDecoder("utf-8", { fatal: true });

/**
 * Reads a server frame. Binary replies become `phx_reply` with payload `{status, response: bytes}`,
 * as in phoenix.js. Empty binary ref fields read as null (phoenix.js gives ""; both are falsy to it).
 */
export function decodeServerFrame(data: string | Uint8Array, binary: boolean): Message {
  if (!binary) {
    const v: unknown = JSON.parse(typeof data === "string" ? data : decoder.decode(data));
    if (!Array.isArray(v) || v.length !== 5) throw new Error("server text frame is not a 5-element array");
    const [joinRef, ref, topic, event, payload] = v as [Ref, Ref, string, string, unknown];
    return { joinRef, ref, topic, event, payload };
  }
  if (typeof data === "string") throw new Error("binary frame given as a string");
  const kind = data[0];
  const count = FIELD_COUNT[kind ?? -1];
  if (count === undefined) throw new Error(`unknown binary kind ${kind}`);
  if (data.length < 1 + count) throw new Error("binary frame shorter than its header");
  const fields: string[] = [];
  let at = 1 + count;
  for (let i = 1; i <= count; i++) {
    const end = at + data[i]!;
    if (end > data.length) throw new Error("binary frame truncated");
    fields.push(decoder.decode(data.subarray(at, end)));
    at = end;
  }
  const payload = data.slice(at);
  const [f0 = "", f1 = "", f2 = "", f3 = ""] = fields;
  if (kind === BinaryKind.Broadcast) return { joinRef: null, ref: null, topic: f0, event: f1, payload };
  if (kind === BinaryKind.Push) return { joinRef: f0 || null, ref: null, topic: f1, event: f2, payload };
  const reply = { status: f3, response: payload };
  return { joinRef: f0 || null, ref: f1 || null, topic: f2, event: ControlEvent.Reply, payload: reply };
}

/** Header strings per kind: push (jr, topic, event), reply (jr, ref, topic, status), broadcast. */
const FIELD_COUNT: Record<number, number> = { 0: 3, 1: 4, 2: 2 };
