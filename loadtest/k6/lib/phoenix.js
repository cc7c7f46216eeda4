// @ts-check
/**
 * Phoenix Channels V2 over k6's WebSocket API (k6/websockets, k6 ≥ 1.0), shared by the scenarios
 * in this folder. Frames are `[join_ref, ref, topic, event, payload]` JSON text (PROTOCOL.md §2);
 * the client heartbeats every 30 s, as phoenix.js does, or the server closes the socket at 60 s.
 *
 * Who connects: the JSON written by `node loadtest/dist/run.js --k6-fixture FILE` (FIXTURE=FILE),
 * or TOKENS (comma-separated JWTs) with TOPICS (comma-separated `chat:{uuid}`, one per token or
 * one for all). VU n takes entry (n - 1) mod count.
 */

import { clearInterval, setInterval } from "k6/timers";
import { WebSocket } from "k6/websockets";

/** @typedef {{ token: string, topic: string }} Entry */
/** @typedef {{ status: string, response: unknown }} Reply */

/** @returns {{ entries: Entry[], rooms: number, members: number }} */
export function loadFixture() {
  if (__ENV.FIXTURE) {
    /** @type {{ entries: Entry[], rooms: number, members: number }} */
    const f = JSON.parse(open(__ENV.FIXTURE));
    return f;
  }
  const tokens = (__ENV.TOKENS || "").split(",").filter((t) => t.length > 0);
  const topics = (__ENV.TOPICS || "").split(",").filter((t) => t.length > 0);
  if (tokens.length === 0 || topics.length === 0) {
    throw new Error("set FIXTURE=<file from run.js --k6-fixture>, or TOKENS and TOPICS");
  }
  const entries = tokens.map((token, i) => ({ token, topic: topics[i % topics.length] || topics[0] || "" }));
  return { entries, rooms: new Set(topics).size, members: Math.ceil(tokens.length / new Set(topics).size) };
}

/** `ws://host:port/socket/websocket` (WS_URL) plus the V2 serializer and the token. */
export function socketUrl(/** @type {string} */ token) {
  const base = __ENV.WS_URL || "ws://127.0.0.1:4000/socket/websocket";
  return `${base}?vsn=2.0.0&token=${encodeURIComponent(token)}`;
}

/**
 * A Phoenix socket: join/push with replies matched by ref, broadcasts to `onBroadcast`.
 * Everything is callback based because k6 VUs run an event loop, not threads.
 */
export class PhoenixSocket {
  /**
   * @param {string} token
   * @param {{ onOpen?: () => void, onClose?: () => void, onError?: (e: unknown) => void }} [handlers]
   */
  constructor(token, handlers = {}) {
    this.ref = 0;
    /** @type {Map<string, (reply: Reply) => void>} */
    this.pending = new Map();
    /** @type {((topic: string, event: string, payload: any) => void) | undefined} */
    this.onBroadcast = undefined;
    this.ws = new WebSocket(socketUrl(token));
    /** @type {number | undefined} */
    this.heartbeatTimer = undefined;
    this.ws.onopen = () => {
      this.heartbeatTimer = setInterval(() => this.push("phoenix", "heartbeat", {}, null), 30_000);
      if (handlers.onOpen) handlers.onOpen();
    };
    this.ws.onclose = () => {
      if (this.heartbeatTimer !== undefined) clearInterval(this.heartbeatTimer);
      if (handlers.onClose) handlers.onClose();
    };
    this.ws.onerror = (e) => {
      if (handlers.onError) handlers.onError(e);
    };
    this.ws.onmessage = (e) => {
      if (!e || typeof e.data !== "string") return;
      this.receive(e.data);
    };
  }

  /** @param {string} text */
  receive(text) {
    /** @type {[string | null, string | null, string, string, any]} */
    const [, ref, topic, event, payload] = JSON.parse(text);
    if (event === "phx_reply" && ref !== null) {
      const cb = this.pending.get(ref);
      if (cb) {
        this.pending.delete(ref);
        cb(payload);
      }
      return;
    }
    if (this.onBroadcast) this.onBroadcast(topic, event, payload);
  }

  /**
   * @param {string} topic
   * @param {string} event
   * @param {unknown} payload
   * @param {string | null} joinRef
   * @param {(reply: Reply) => void} [onReply]
   * @returns {string} the ref
   */
  push(topic, event, payload, joinRef, onReply) {
    this.ref += 1;
    const ref = String(this.ref);
    if (onReply) this.pending.set(ref, onReply);
    this.ws.send(JSON.stringify([joinRef, ref, topic, event, payload]));
    return ref;
  }

  /**
   * Joins `topic`; the join's ref is the channel's join_ref for every later push.
   * @param {string} topic
   * @param {(reply: Reply, joinRef: string) => void} onReply
   */
  join(topic, onReply) {
    const joinRef = String(this.ref + 1);
    this.push(topic, "phx_join", {}, joinRef, (reply) => onReply(reply, joinRef));
  }

  close() {
    this.ws.close(1000);
  }
}
