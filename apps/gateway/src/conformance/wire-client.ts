/**
 * @module
 * A raw Phoenix wire client for the conformance suite: a `ws` socket whose frames queue up until
 * a test awaits them, so tests wait on frames and events, never on the clock. Absence ("nothing
 * comes back") is proven with a fence: a heartbeat, which the server answers before any channel
 * work, so any frame produced by an earlier message would arrive before its reply.
 */
import type { IncomingHttpHeaders } from "node:http";
import WebSocket from "ws";

export type Received = { binary: false; text: string; json: unknown } | { binary: true; bytes: Uint8Array };

export interface CloseInfo {
  code: number;
  reason: string;
}

export interface ConnectOptions {
  /** Query string token; null sends none. Default "good". */
  token?: string | null;
  /** null sends no vsn (V1). Default "2.0.0". */
  vsn?: string | null;
  /** Extra query string, appended as is. */
  query?: string;
  headers?: Record<string, string>;
  protocols?: string[];
}

const DEFAULT_WAIT_MS = 2000;
const open = new Set<WireClient>();

export function socketUrl(base: string, o: ConnectOptions = {}): string {
  const q = new URLSearchParams();
  const token = o.token === undefined ? "good" : o.token;
  if (token !== null) q.set("token", token);
  const vsn = o.vsn === undefined ? "2.0.0" : o.vsn;
  if (vsn !== null) q.set("vsn", vsn);
  const extra = o.query ? `&${o.query}` : "";
  return `${base}/websocket?${q}${extra}`;
}

export class WireClient {
  readonly #queue: Received[] = [];
  readonly #waiters: Array<(f: Received) => void> = [];
  readonly closed: Promise<CloseInfo>;
  readonly errors: Error[] = [];
  #fences = 0;

  /** v1: the socket speaks V1 (JSON objects), which the fence must use too. */
  constructor(
    readonly ws: WebSocket,
    readonly v1 = false,
  ) {
    open.add(this);
    ws.binaryType = "nodebuffer";
    ws.on("message", (data: Buffer, isBinary) => {
      const f: Received = isBinary
        ? { binary: true, bytes: new Uint8Array(data) }
        : { binary: false, text: data.toString("utf8"), json: JSON.parse(data.toString("utf8")) };
      const w = this.#waiters.shift();
      if (w) w(f);
      else this.#queue.push(f);
    });
    // A socket the server cuts mid-send reports EPIPE/ECONNRESET; the close is what tests check.
    ws.on("error", (e) => {
      this.errors.push(e);
    });
    this.closed = new Promise((resolve) => {
      ws.on("close", (code, reason) => {
        open.delete(this);
        resolve({ code, reason: reason.toString() });
      });
    });
  }

  /** Frames received and not yet taken. */
  get pending(): readonly Received[] {
    return this.#queue;
  }

  nextRaw(timeoutMs = DEFAULT_WAIT_MS): Promise<Received> {
    const queued = this.#queue.shift();
    if (queued) return Promise.resolve(queued);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiters.splice(this.#waiters.indexOf(waiter), 1);
        reject(new Error(`no frame within ${timeoutMs} ms`));
      }, timeoutMs);
      const waiter = (f: Received) => {
        clearTimeout(timer);
        resolve(f);
      };
      this.#waiters.push(waiter);
    });
  }

  /** The next frame, which must be text; its parsed JSON. */
  async next(timeoutMs?: number): Promise<unknown> {
    const f = await this.nextRaw(timeoutMs);
    if (f.binary)
      throw new Error(`expected a text frame, got binary ${Buffer.from(f.bytes).toString("hex")}`);
    return f.json;
  }

  async nextBinary(timeoutMs?: number): Promise<Uint8Array> {
    const f = await this.nextRaw(timeoutMs);
    if (!f.binary) throw new Error(`expected a binary frame, got ${f.text}`);
    return f.bytes;
  }

  async nextN(n: number): Promise<unknown[]> {
    const out: unknown[] = [];
    for (let i = 0; i < n; i++) out.push(await this.next());
    return out;
  }

  /** A V2 text frame `[join_ref, ref, topic, event, payload]`, or any JSON (V1 objects, junk). */
  send(frame: unknown): void {
    this.ws.send(JSON.stringify(frame));
  }

  sendRaw(data: string | Uint8Array, binary: boolean): void {
    this.ws.send(data, { binary });
  }

  /** Joins over V2 and returns the reply. */
  async join(topic: string, joinRef: string, payload: object = {}, ref = joinRef): Promise<unknown> {
    this.send([joinRef, ref, topic, "phx_join", payload]);
    return this.next();
  }

  /** Joins `room:*` and takes the ok reply, the "joined" push and the "user_entered" broadcast. */
  async joinRoom(topic: string, joinRef: string, payload: object = {}): Promise<void> {
    const reply = await this.join(topic, joinRef, payload);
    const ok = [joinRef, joinRef, topic, "phx_reply", { status: "ok", response: {} }];
    if (JSON.stringify(reply) !== JSON.stringify(ok))
      throw new Error(`join failed: ${JSON.stringify(reply)}`);
    await this.nextN(2);
  }

  /** Proves nothing else arrived before now: the next frame must be this heartbeat's reply. */
  async fence(): Promise<void> {
    const ref = `fence-${++this.#fences}`;
    const ok = { status: "ok", response: {} };
    this.send(
      this.v1
        ? { topic: "phoenix", event: "heartbeat", payload: {}, ref }
        : [null, ref, "phoenix", "heartbeat", {}],
    );
    const f = await this.nextRaw();
    const got = f.binary ? Buffer.from(f.bytes).toString("hex") : f.text;
    const want = JSON.stringify(
      this.v1
        ? { topic: "phoenix", event: "phx_reply", payload: ok, ref }
        : [null, ref, "phoenix", "phx_reply", ok],
    );
    if (got !== want) throw new Error(`expected nothing before the fence, got ${got}`);
  }

  /** Waits for the server to close this socket; fails if it sent any frame first. */
  async expectClosedSilently(timeoutMs = DEFAULT_WAIT_MS): Promise<CloseInfo> {
    const info = await withTimeout(this.closed, timeoutMs, "socket was not closed");
    if (this.#queue.length > 0) throw new Error(`frames before the close: ${JSON.stringify(this.#queue)}`);
    return info;
  }

  close(): void {
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING)
      this.ws.terminate();
  }
}

export function connect(base: string, o: ConnectOptions = {}): Promise<WireClient> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(socketUrl(base, o), o.protocols ?? [], { headers: o.headers });
    const client = new WireClient(ws, o.vsn === null || o.vsn?.startsWith("1.") === true);
    ws.once("open", () => resolve(client));
    ws.once("unexpected-response", (req, res) => {
      req.destroy();
      client.close();
      reject(new Error(`upgrade refused: HTTP ${res.statusCode}`));
    });
    ws.once("error", reject);
  });
}

export type HandshakeResult = { status: number; headers: IncomingHttpHeaders };

/** Tries the upgrade and reports the HTTP status (101 or the refusal) and response headers. */
export function handshake(base: string, o: ConnectOptions = {}): Promise<HandshakeResult> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(socketUrl(base, o), o.protocols ?? [], { headers: o.headers });
    ws.once("upgrade", (res) => {
      resolve({ status: res.statusCode ?? 0, headers: res.headers });
      ws.once("open", () => ws.terminate());
    });
    ws.once("unexpected-response", (req, res) => {
      resolve({ status: res.statusCode ?? 0, headers: res.headers });
      req.destroy();
    });
    ws.once("error", reject);
  });
}

/** Terminates every client still open (afterEach). */
export function closeAllClients(): void {
  for (const c of open) c.close();
}

export function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what} within ${ms} ms`)), ms);
    p.then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      (e) => {
        clearTimeout(timer);
        reject(e);
      },
    );
  });
}

/** Polls `cond` until it holds; never a fixed sleep followed by an assertion. */
export async function waitFor(cond: () => boolean, what: string, timeoutMs = DEFAULT_WAIT_MS): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** The reply frame Phoenix sends, V2. */
export function reply(jr: string | null, ref: string, topic: string, status: string, response: object = {}) {
  return [jr, ref, topic, "phx_reply", { status, response }];
}
