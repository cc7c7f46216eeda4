/**
 * @module
 * A lean Phoenix V2 (JSON text) client on a raw TCP socket, so that thousands of clients per
 * process cost little CPU and the gateway, not the load generator, is what gets measured.
 *
 * The WebSocket part is the minimum of RFC 6455 a client needs: the HTTP/1.1 upgrade (with the
 * Sec-WebSocket-Accept check), masked frames out (§5.3: a client MUST mask), unmasked frames in,
 * fragmentation, control frames (ping → pong, close → close), 7/16/64-bit lengths; no extensions.
 *
 * Inbound text frames are handed over as raw bytes: the load generator classifies most of them by
 * their first bytes (a fastlane broadcast starts with `[null,null,`) and never runs JSON.parse on
 * them. Only replies to tracked requests (joins) are parsed.
 */
import { createHash, randomBytes, randomFillSync } from "node:crypto";
import { connect, type Socket } from "node:net";

export const Opcode = {
  Continuation: 0x0,
  Text: 0x1,
  Binary: 0x2,
  Close: 0x8,
  Ping: 0x9,
  Pong: 0xa,
} as const;
export type Opcode = (typeof Opcode)[keyof typeof Opcode];

const WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
/** Refuse absurd inbound frames instead of buffering them: the gateway caps frames far below this. */
export const MAX_INBOUND_FRAME = 64 * 1024 * 1024;

/** XORs `data` with the 4-byte key in place (masking and unmasking are the same operation). */
export function applyMask(data: Uint8Array, key: Uint8Array): void {
  const n = data.length;
  const k0 = key[0]!;
  const k1 = key[1]!;
  const k2 = key[2]!;
  const k3 = key[3]!;
  let i = 0;
  for (; i + 3 < n; i += 4) {
    data[i]! ^= k0;
    data[i + 1]! ^= k1;
    data[i + 2]! ^= k2;
    data[i + 3]! ^= k3;
  }
  for (; i < n; i++) data[i]! ^= key[i & 3]!;
}

// Mask keys come from a pooled random buffer: one getrandom() call per 1024 frames, not per frame.
const keyPool = Buffer.allocUnsafe(4096);
let keyPos = keyPool.length;
function nextMaskKey(): Buffer {
  if (keyPos === keyPool.length) {
    randomFillSync(keyPool);
    keyPos = 0;
  }
  const k = keyPool.subarray(keyPos, keyPos + 4);
  keyPos += 4;
  return k;
}

/**
 * One complete frame (FIN set). `maskKey` null = unmasked (server→client shape, used by tests);
 * otherwise the payload is copied and masked with that key, or a fresh random one when omitted.
 */
export function encodeFrame(
  opcode: Opcode,
  payload: Uint8Array | string,
  maskKey: Uint8Array | null | undefined = undefined,
  fin = true,
): Buffer {
  const body = typeof payload === "string" ? Buffer.from(payload) : payload;
  const len = body.length;
  const masked = maskKey !== null;
  const lenBytes = len < 126 ? 0 : len < 0x10000 ? 2 : 8;
  const head = 2 + lenBytes + (masked ? 4 : 0);
  const out = Buffer.allocUnsafe(head + len);
  out[0] = (fin ? 0x80 : 0) | opcode;
  const maskBit = masked ? 0x80 : 0;
  if (lenBytes === 0) {
    out[1] = maskBit | len;
  } else if (lenBytes === 2) {
    out[1] = maskBit | 126;
    out.writeUInt16BE(len, 2);
  } else {
    out[1] = maskBit | 127;
    out.writeUInt32BE(Math.floor(len / 0x1_0000_0000), 2);
    out.writeUInt32BE(len >>> 0, 6);
  }
  out.set(body, head);
  if (masked) {
    const key = maskKey ?? nextMaskKey();
    out.set(key.subarray(0, 4), head - 4);
    applyMask(out.subarray(head), key);
  }
  return out;
}

export class ProtocolError extends Error {}

export interface FrameHandlers {
  /** A complete data message (fragments joined). `data` is only valid during the call. */
  message(opcode: typeof Opcode.Text | typeof Opcode.Binary, data: Buffer): void;
  /** Ping, pong or close (never fragmented, ≤125 bytes). */
  control(opcode: typeof Opcode.Close | typeof Opcode.Ping | typeof Opcode.Pong, data: Buffer): void;
}

/**
 * Streaming frame parser. Chunks are concatenated only when a frame straddles them, and a large
 * frame is assembled with one concat once all its bytes are in (never one per chunk).
 */
export class FrameDecoder {
  #chunks: Buffer[] = [];
  #buffered = 0;
  /** Bytes needed before parsing can make progress again. */
  #need = 2;
  #fragOpcode: typeof Opcode.Text | typeof Opcode.Binary | 0 = 0;
  #fragments: Buffer[] = [];
  #fragBytes = 0;

  constructor(private readonly handlers: FrameHandlers) {}

  /**
   * `chunk` may be borrowed (a view of a read buffer reused by the next read, see `onread`
   * below): handlers must use payloads synchronously, and whatever is kept for later is copied.
   */
  push(chunk: Buffer): void {
    if (this.#buffered + chunk.length < this.#need) {
      this.#chunks.push(Buffer.from(chunk));
      this.#buffered += chunk.length;
      return;
    }
    this.#chunks.push(chunk);
    this.#buffered += chunk.length;
    const buf = this.#chunks.length === 1 ? this.#chunks[0]! : Buffer.concat(this.#chunks, this.#buffered);
    this.#chunks = [];
    this.#buffered = 0;
    let off = 0;
    const end = buf.length;
    for (;;) {
      if (end - off < 2) {
        this.#need = 2;
        break;
      }
      const b0 = buf[off]!;
      const b1 = buf[off + 1]!;
      if (b0 & 0x70) throw new ProtocolError("reserved bits set (no extension was negotiated)");
      const fin = (b0 & 0x80) !== 0;
      const opcode = b0 & 0x0f;
      const masked = (b1 & 0x80) !== 0;
      let len = b1 & 0x7f;
      let head = 2;
      if (len === 126) {
        head = 4;
        if (end - off < head) {
          this.#need = head;
          break;
        }
        len = buf.readUInt16BE(off + 2);
      } else if (len === 127) {
        head = 10;
        if (end - off < head) {
          this.#need = head;
          break;
        }
        const hi = buf.readUInt32BE(off + 2);
        if (hi & 0x80000000) throw new ProtocolError("64-bit length with the high bit set");
        len = hi * 0x1_0000_0000 + buf.readUInt32BE(off + 6);
      }
      if (len > MAX_INBOUND_FRAME) throw new ProtocolError(`frame of ${len} bytes is over the limit`);
      // Checked on the header, before waiting for a payload that may never be worth waiting for.
      if (opcode >= 0x8 && (!fin || len > 125))
        throw new ProtocolError("fragmented or oversized control frame");
      if (masked) head += 4;
      const total = head + len;
      if (end - off < total) {
        this.#need = total;
        break;
      }
      const payload = buf.subarray(off + head, off + total);
      // Servers must not mask (§5.1), but unmasking costs nothing to support and helps tests.
      if (masked) applyMask(payload, buf.subarray(off + head - 4, off + head));
      off += total;
      this.#frame(fin, opcode, payload);
    }
    if (off < end) {
      const rest = Buffer.from(buf.subarray(off));
      this.#chunks.push(rest);
      this.#buffered = rest.length;
    }
  }

  #frame(fin: boolean, opcode: number, payload: Buffer): void {
    if (opcode >= 0x8) {
      if (opcode !== Opcode.Close && opcode !== Opcode.Ping && opcode !== Opcode.Pong) {
        throw new ProtocolError(`unknown control opcode ${opcode}`);
      }
      this.handlers.control(opcode, payload);
      return;
    }
    if (opcode === Opcode.Continuation) {
      if (this.#fragOpcode === 0) throw new ProtocolError("continuation without a started message");
      this.#fragments.push(Buffer.from(payload));
      this.#fragBytes += payload.length;
      if (this.#fragBytes > MAX_INBOUND_FRAME) throw new ProtocolError("fragmented message over the limit");
      if (fin) {
        const kind = this.#fragOpcode;
        const whole = Buffer.concat(this.#fragments, this.#fragBytes);
        this.#fragOpcode = 0;
        this.#fragments = [];
        this.#fragBytes = 0;
        this.handlers.message(kind, whole);
      }
      return;
    }
    if (opcode !== Opcode.Text && opcode !== Opcode.Binary)
      throw new ProtocolError(`unknown opcode ${opcode}`);
    if (this.#fragOpcode !== 0) throw new ProtocolError("new message before the fragmented one ended");
    if (fin) {
      this.handlers.message(opcode, payload);
      return;
    }
    this.#fragOpcode = opcode;
    // The payload may be a view into a chunk that is reused later: keep a copy.
    this.#fragments = [Buffer.from(payload)];
    this.#fragBytes = payload.length;
  }
}

/** RFC 6455 §4.2.2: the Sec-WebSocket-Accept a server must answer a Sec-WebSocket-Key with. */
export function acceptKey(key: string): string {
  return createHash("sha1")
    .update(key + WS_GUID)
    .digest("base64");
}

/** The HTTP upgrade request and the Sec-WebSocket-Accept value the server must answer with. */
export function upgradeRequest(host: string, path: string): { request: string; accept: string } {
  const key = randomBytes(16).toString("base64");
  const accept = acceptKey(key);
  const request =
    `GET ${path} HTTP/1.1\r\nHost: ${host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
    `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`;
  return { request, accept };
}

/** Checks an upgrade response head (status line + headers, without the blank line). */
export function checkUpgradeResponse(head: string, accept: string): void {
  const lines = head.split("\r\n");
  const status = lines[0] ?? "";
  if (!/^HTTP\/1\.1 101 /.test(status)) throw new Error(`upgrade refused: ${status || "(empty response)"}`);
  let got: string | undefined;
  for (const line of lines.slice(1)) {
    const i = line.indexOf(":");
    if (i > 0 && line.slice(0, i).trim().toLowerCase() === "sec-websocket-accept")
      got = line.slice(i + 1).trim();
  }
  if (got !== accept) throw new Error("upgrade answered with a wrong Sec-WebSocket-Accept");
}

/** A parsed reply (`phx_reply`), for the few frames that are worth a JSON.parse. */
export interface PhxReply {
  topic: string;
  status: string;
  response: unknown;
}

export interface PhxConnectOptions {
  host: string;
  port: number;
  token: string;
  /** Source address, e.g. 127.0.0.7: spreads client ports over several addresses. */
  localAddress?: string;
  path?: string;
  timeoutMs?: number;
}

const HEAD_END = Buffer.from("\r\n\r\n");
const BROADCAST_PREFIX = Buffer.from("[null,null,");

/**
 * One Phoenix socket. `onText` sees every inbound text frame first (raw bytes); it returns true
 * when it consumed the frame, otherwise replies are matched to pending requests by ref.
 */
/** Every socket of the process reads into this; see `onread` in PhxSocket.connect. */
const READ_BUFFER = Buffer.alloc(256 * 1024);

export class PhxSocket {
  /** Fast path for inbound frames; return true to skip the default reply matching. */
  onText: ((data: Buffer) => boolean) | undefined;
  /** Called once when the TCP connection ends, whoever ended it. */
  onClose: ((why: string) => void) | undefined;
  closed = false;
  #ref = 0;
  #pending = new Map<string, (r: PhxReply) => void>();
  readonly #decoder: FrameDecoder;

  private constructor(readonly socket: Socket) {
    this.#decoder = new FrameDecoder({
      message: (opcode, data) => {
        if (opcode === Opcode.Text) this.#text(data);
      },
      control: (opcode, data) => {
        if (opcode === Opcode.Ping) this.#write(encodeFrame(Opcode.Pong, data));
        else if (opcode === Opcode.Close) {
          this.#write(encodeFrame(Opcode.Close, data.subarray(0, 2)));
          this.#end(`server close ${data.length >= 2 ? data.readUInt16BE(0) : ""}`);
        }
      },
    });
  }

  /** Opens the TCP connection and completes the upgrade; rejects on refusal or timeout. */
  static connect(opts: PhxConnectOptions): Promise<PhxSocket> {
    const path = opts.path ?? `/socket/websocket?vsn=2.0.0&token=${encodeURIComponent(opts.token)}`;
    const { request, accept } = upgradeRequest(`${opts.host}:${opts.port}`, path);
    return new Promise((resolve, reject) => {
      // Reads land in one buffer shared by every socket of this process (`onread`), handed over
      // without the stream machinery: a 'data' event per frame per socket cost the load
      // generator about as much CPU as the gateway it measures, and so skewed the latencies.
      let onChunk: (chunk: Buffer) => void = () => {};
      const sock = connect({
        host: opts.host,
        port: opts.port,
        noDelay: true,
        onread: {
          buffer: READ_BUFFER,
          callback: (n: number, buf: Uint8Array) => {
            onChunk(Buffer.from(buf.buffer, buf.byteOffset, n));
            return true;
          },
        },
        ...(opts.localAddress ? { localAddress: opts.localAddress } : {}),
      });
      let head: Buffer = Buffer.alloc(0);
      let settled = false;
      const fail = (e: Error) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        sock.destroy();
        reject(e);
      };
      const timer = setTimeout(() => fail(new Error("connect timeout")), opts.timeoutMs ?? 10_000);
      sock.once("error", fail);
      sock.once("close", () => fail(new Error("closed during upgrade")));
      sock.once("connect", () => sock.write(request));
      onChunk = (chunk: Buffer) => {
        head = Buffer.concat([head, chunk]);
        const at = head.indexOf(HEAD_END);
        if (at < 0) {
          if (head.length > 16_384) fail(new Error("upgrade response head too large"));
          return;
        }
        onChunk = () => {};
        try {
          checkUpgradeResponse(head.subarray(0, at).toString("latin1"), accept);
        } catch (e) {
          fail(e as Error);
          return;
        }
        settled = true;
        clearTimeout(timer);
        sock.removeAllListeners("error");
        sock.removeAllListeners("close");
        const phx = new PhxSocket(sock);
        phx.#attach();
        onChunk = (c) => phx.#feed(c);
        const rest = head.subarray(at + HEAD_END.length);
        resolve(phx);
        if (rest.length > 0) phx.#feed(rest);
      };
    });
  }

  #attach(): void {
    this.socket.on("error", (e: NodeJS.ErrnoException) => this.#end(`socket error ${e.code ?? e.message}`));
    this.socket.on("close", () => this.#end("socket closed"));
  }

  #feed(chunk: Buffer): void {
    try {
      this.#decoder.push(chunk);
    } catch (e) {
      this.#end(`protocol error: ${(e as Error).message}`);
    }
  }

  #text(data: Buffer): void {
    if (this.onText?.(data)) return;
    if (this.#pending.size === 0) return;
    if (data.subarray(0, BROADCAST_PREFIX.length).equals(BROADCAST_PREFIX)) return;
    let frame: unknown;
    try {
      frame = JSON.parse(data.toString("utf8"));
    } catch {
      return;
    }
    if (!Array.isArray(frame) || frame[3] !== "phx_reply" || typeof frame[1] !== "string") return;
    const cb = this.#pending.get(frame[1]);
    if (!cb) return;
    this.#pending.delete(frame[1]);
    const p = (frame[4] ?? {}) as { status?: unknown; response?: unknown };
    cb({ topic: String(frame[2]), status: String(p.status), response: p.response });
  }

  #write(frame: Buffer): void {
    if (!this.closed) this.socket.write(frame);
  }

  #end(why: string, destroy = true): void {
    if (this.closed) return;
    this.closed = true;
    if (destroy) this.socket.destroy();
    for (const cb of this.#pending.values()) cb({ topic: "", status: "closed", response: why });
    this.#pending.clear();
    this.onClose?.(why);
  }

  nextRef(): string {
    this.#ref += 1;
    return String(this.#ref);
  }

  /** Sends a pre-encoded V2 text frame (the caller built the JSON array). */
  sendText(json: string): void {
    this.#write(encodeFrame(Opcode.Text, json));
  }

  /** Fire-and-forget push; returns the ref used. */
  push(topic: string, event: string, payload: unknown, joinRef: string | null): string {
    const ref = this.nextRef();
    this.sendText(JSON.stringify([joinRef, ref, topic, event, payload]));
    return ref;
  }

  /** A push whose reply is awaited (parsed with JSON.parse); rejects after `timeoutMs`. */
  request(
    topic: string,
    event: string,
    payload: unknown,
    joinRef: string | null,
    timeoutMs = 10_000,
  ): Promise<PhxReply> {
    const ref = this.nextRef();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(ref);
        reject(new Error(`${event} on ${topic}: no reply within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#pending.set(ref, (r) => {
        clearTimeout(timer);
        resolve(r);
      });
      this.sendText(
        JSON.stringify([joinRef ?? (event === "phx_join" ? ref : null), ref, topic, event, payload]),
      );
    });
  }

  /** Joins `topic`; the join's ref becomes the channel's join_ref (PROTOCOL.md §2). */
  async join(
    topic: string,
    params: unknown = {},
    timeoutMs = 10_000,
  ): Promise<PhxReply & { joinRef: string }> {
    const joinRef = String(this.#ref + 1);
    const reply = await this.request(topic, "phx_join", params, null, timeoutMs);
    return { ...reply, joinRef };
  }

  heartbeat(): void {
    this.push("phoenix", "heartbeat", {}, null);
  }

  /** Closes with a WebSocket close frame (1000) and then the TCP connection. */
  close(): void {
    if (this.closed) return;
    const code = Buffer.alloc(2);
    code.writeUInt16BE(1000, 0);
    this.#write(encodeFrame(Opcode.Close, code));
    // end() flushes what was written and sends FIN; the server's close completes the TCP close.
    this.socket.end();
    this.#end("client close", false);
    setTimeout(() => this.socket.destroy(), 2_000).unref();
  }
}
