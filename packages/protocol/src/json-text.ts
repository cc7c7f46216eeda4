/** @module Pieces both JSON serializers share: reading text frames, checking field types, writing JSON. */
import type { Ref } from "./message.js";
import { type DecodeError, type DecodeResult, EncodeError } from "./serializer.js";
import { decodeUtf8 } from "./utf8.js";

export function malformed(detail: string): DecodeError {
  return { ok: false, error: "malformed", detail };
}

export const INVALID_UTF8: DecodeError = Object.freeze({
  ok: false,
  error: "invalid_utf8",
  detail: "text frame is not valid UTF-8",
});

export const PARSE_FAILED: unique symbol = Symbol("parse failed");

/**
 * Text frame → parsed JSON, or one of the sentinels INVALID_UTF8 / PARSE_FAILED (compared by
 * identity; JSON.parse can return neither). Sentinels spare the hot path a wrapper object.
 */
export function parseTextFrame(data: string | ArrayBuffer | Uint8Array): unknown {
  const text = typeof data === "string" ? data : decodeUtf8(data);
  if (text === null) return INVALID_UTF8;
  try {
    return JSON.parse(text);
  } catch {
    return PARSE_FAILED;
  }
}

/** The field checks V1 and V2 share, ending in the decoded message. */
export function checkedMessage(
  joinRef: unknown,
  ref: unknown,
  topic: unknown,
  event: unknown,
  payload: unknown,
): DecodeResult {
  if (!isRef(joinRef)) return malformed(`join_ref must be string/number/null, got ${describe(joinRef)}`);
  if (!isRef(ref)) return malformed(`ref must be string/number/null, got ${describe(ref)}`);
  if (!isName(topic)) return malformed(`topic must be a non-empty string, got ${describe(topic)}`);
  if (!isName(event)) return malformed(`event must be a non-empty string, got ${describe(event)}`);
  return { ok: true, message: { joinRef, ref, topic, event, payload } };
}

function isRef(v: unknown): v is Ref {
  // JSON.parse turns 1e400 into Infinity, which would echo back as null: refuse it.
  return v === null || typeof v === "string" || (typeof v === "number" && Number.isFinite(v));
}

function isName(v: unknown): v is string {
  return typeof v === "string" && v.length > 0;
}

/** A type name for error details; the value itself is never echoed into logs. */
export function describe(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "array";
  return typeof v;
}

/** JSON.stringify of a whole frame, with its throws (BigInt, cycles) turned into EncodeError. */
export function stringifyFrame(frame: unknown, what: string): string {
  try {
    return JSON.stringify(frame);
  } catch (e) {
    throw new EncodeError("not_serializable", `${what} is not JSON-serializable: ${(e as Error).message}`);
  }
}

/** Push and broadcast payloads must be JSON objects; Phoenix raises on anything but a map. */
export function checkObject(payload: unknown, what: string): void {
  if (typeof payload !== "object" || payload === null || Array.isArray(payload)) {
    throw new EncodeError("not_an_object", `${what} must be a JSON object, got ${describe(payload)}`);
  }
}

/** Inside a frame, JSON.stringify would quietly turn these into null or drop them. */
export function checkJsonValue(value: unknown, what: string): void {
  const t = typeof value;
  if (t === "undefined" || t === "function" || t === "symbol") {
    throw new EncodeError("not_serializable", `${what} is ${t}`);
  }
}

/** The cheap guard for pre-serialized payloads: the first non-whitespace character must be `{`. */
export function checkObjectJson(json: string, what: string): string {
  for (let i = 0; i < json.length; i++) {
    const c = json.charCodeAt(i);
    if (c === 0x7b) return json;
    if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) break;
  }
  throw new EncodeError("not_an_object", `${what} must be JSON object text`);
}
