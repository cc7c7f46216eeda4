/**
 * @module
 * Wire format of one bus envelope, shared by every implementation:
 *
 * ```
 * 1\n<from>\n<header JSON>[\n<payload>]
 * ```
 * `1` is the format version (a node that meets another version counts a decode error, which
 * makes a botched rolling deploy visible). The header is the message without a string
 * `payload`; such a payload follows the second newline verbatim. JSON.stringify never emits a
 * raw newline, so the first two newlines are unambiguous. Measured against one
 * `JSON.stringify({f, ...msg})` on a 200-byte chat payload: 13% smaller, encode 2.3x and
 * decode 1.7x faster, because the payload is neither escaped nor unescaped.
 */
import type { BusMessage, NodeId } from "./bus.js";

const VERSION = "1";

export type Decoded = { ok: true; from: NodeId; msg: BusMessage } | { ok: false; reason: string };

/** Every envelope from `from` starts with this; lets a node drop its own echo without parsing. */
export function originPrefix(from: NodeId): string {
  return `${VERSION}\n${from}\n`;
}

export function encodeEnvelope(from: NodeId, msg: BusMessage): string {
  const { payload, ...header } = msg as { payload?: unknown };
  if (typeof payload === "string") return `${VERSION}\n${from}\n${JSON.stringify(header)}\n${payload}`;
  return `${VERSION}\n${from}\n${JSON.stringify(msg)}`;
}

export function decodeEnvelope(wire: string): Decoded {
  if (!wire.startsWith(`${VERSION}\n`)) return { ok: false, reason: "unknown format version" };
  const fromEnd = wire.indexOf("\n", 2);
  if (fromEnd <= 2) return { ok: false, reason: "missing origin" };
  const headerEnd = wire.indexOf("\n", fromEnd + 1);
  let header: unknown;
  try {
    header = JSON.parse(headerEnd === -1 ? wire.slice(fromEnd + 1) : wire.slice(fromEnd + 1, headerEnd));
  } catch {
    return { ok: false, reason: "header is not JSON" };
  }
  if (typeof header !== "object" || header === null || Array.isArray(header)) {
    return { ok: false, reason: "header is not an object" };
  }
  const h = header as Record<string, unknown>;
  if (headerEnd !== -1) h.payload = wire.slice(headerEnd + 1);
  const why = invalidBody(h);
  if (why) return { ok: false, reason: why };
  // Kinds added by augmentation are only checked for a string `kind`: every node runs the
  // same code, and the package that owns a kind validates what it needs.
  return { ok: true, from: wire.slice(2, fromEnd), msg: h as BusMessage };
}

function invalidBody(h: Record<string, unknown>): string | undefined {
  if (typeof h.kind !== "string") return "kind is not a string";
  switch (h.kind) {
    case "broadcast":
      if (typeof h.topic !== "string" || typeof h.event !== "string" || typeof h.payload !== "string") {
        return "broadcast needs string topic, event and payload";
      }
      if (h.exceptConn !== undefined && typeof h.exceptConn !== "string") return "exceptConn is not a string";
      if (h.seq !== undefined && !(Number.isSafeInteger(h.seq) && (h.seq as number) > 0))
        return "seq is not a positive integer";
      if (h.each !== undefined && h.each !== true) return "each is not true";
      return undefined;
    case "control":
      if (typeof h.topic !== "string" || typeof h.action !== "string") {
        return "control needs string topic and action";
      }
      return undefined;
    default:
      return undefined;
  }
}
