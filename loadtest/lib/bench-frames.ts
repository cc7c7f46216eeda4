/**
 * @module
 * The bench's own frames, read and written without JSON: a `new_msg` push whose body carries the
 * step number and the send time (`t:<step>:<µs>`), and the byte patterns that classify what the
 * gateway sends back. Kept apart from the worker so tests can check the patterns against frames
 * encoded by the gateway's real serializer.
 */

const STATUS_OK = Buffer.from('"status":"ok"');
const NEW_MSG = Buffer.from('","new_msg",{');
const MARKER = Buffer.from('{"text":"t:');
const QUOTE = 0x22;
const COLON = 0x3a;
const COMMA = 0x2c;
const N = 0x6e;

/** Prebuilt per-socket parts of a send frame; only ref, step and time change per message. */
export function sendFrameParts(joinRef: string, topic: string): { head: string; mid: string } {
  return { head: `["${joinRef}","`, mid: `","${topic}","new_msg",{"body":"t:` };
}

/** `["<jr>","<ref>","<topic>","new_msg",{"body":"t:<step>:<µs>"}]` — what phoenix.js would send. */
export function sendFrame(
  parts: { head: string; mid: string },
  ref: string,
  step: number,
  sentUs: number,
): string {
  return `${parts.head}${ref}${parts.mid}${step}:${sentUs}"}]`;
}

export const FrameKind = { Broadcast: 0, HeartbeatOk: 1, ReplyOk: 2, Error: 3, Push: 4 } as const;
export type FrameKind = (typeof FrameKind)[keyof typeof FrameKind];

/**
 * Classifies a V2 text frame by its first bytes: `[null,null,…` is a fastlane broadcast,
 * `[null,"…` a reply without join_ref (heartbeat, or an unmatched-topic error), `["<jr>",null,…`
 * a channel push (e.g. presence_state), anything else a reply on a joined channel. Ok vs error is
 * a search for `"status":"ok"`.
 */
export function classify(data: Uint8Array): FrameKind {
  const buf = Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  if (buf[1] === N) {
    if (buf[6] === N) return FrameKind.Broadcast;
    return buf.indexOf(STATUS_OK) >= 0 ? FrameKind.HeartbeatOk : FrameKind.Error;
  }
  const jrEnd = buf.indexOf(QUOTE, 2);
  if (jrEnd > 0 && buf[jrEnd + 1] === COMMA && buf[jrEnd + 2] === N) return FrameKind.Push;
  return buf.indexOf(STATUS_OK) >= 0 ? FrameKind.ReplyOk : FrameKind.Error;
}

/** Reads a non-negative decimal integer at `at` that ends at byte `stop`: [value, index of stop], or null. */
function readInt(buf: Buffer, at: number, stop: number): [number, number] | null {
  let v = 0;
  let i = at;
  for (; i < buf.length; i++) {
    const c = buf[i]!;
    if (c === stop) return i > at ? [v, i] : null;
    if (c < 0x30 || c > 0x39) return null;
    v = v * 10 + (c - 0x30);
  }
  return null;
}

/** From a `new_msg` broadcast of a bench message: its step and send time; null for anything else. */
export function readStamp(buf: Buffer): { step: number; sentUs: number } | null {
  if (buf.indexOf(NEW_MSG) < 0) return null;
  const m = buf.indexOf(MARKER);
  if (m < 0) return null;
  const step = readInt(buf, m + MARKER.length, COLON);
  if (!step) return null;
  const sent = readInt(buf, step[1] + 1, QUOTE);
  if (!sent) return null;
  return { step: step[0], sentUs: sent[0] };
}
