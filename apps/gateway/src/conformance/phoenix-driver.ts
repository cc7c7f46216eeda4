/**
 * @module
 * Driving the official `phoenix` npm client (1.8.16) from Node 20 for the conformance suite:
 * `ws` as its WebSocket, fast reconnect/rejoin backoffs, helpers that turn its callbacks into
 * promises, and the V1 codec the client accepts through its `encode`/`decode` options.
 */
import { type Channel, type Push, type PushStatus, Socket, type SocketConnectOption } from "phoenix";
import WebSocket from "ws";
import { withTimeout } from "./wire-client.js";

const sockets = new Set<Socket>();

export function phoenixSocket(base: string, opts: Partial<SocketConnectOption> = {}): Socket {
  const socket = new Socket(base, {
    transport: WebSocket,
    params: { token: "good" },
    reconnectAfterMs: () => 20,
    rejoinAfterMs: () => 20,
    ...opts,
  });
  sockets.add(socket);
  return socket;
}

/** The client's current WebSocket (phoenix.js keeps it on `conn`), if any. */
export function transportOf(socket: Socket): WebSocket | null {
  return (socket as unknown as { conn: WebSocket | null }).conn;
}

/**
 * Disconnects every client socket made here (afterEach), so none reconnects, and waits for each
 * WebSocket to close (disconnect's own callback polls for that in 150 ms steps).
 */
export async function disconnectAll(): Promise<void> {
  const all = [...sockets];
  sockets.clear();
  await Promise.all(
    all.map((s) => {
      const ws = transportOf(s);
      s.disconnect();
      if (!ws || ws.readyState === WebSocket.CLOSED) return undefined;
      return new Promise<void>((resolve) => ws.once("close", () => resolve()));
    }),
  );
}

export function connected(socket: Socket): Promise<void> {
  return withTimeout(
    new Promise<void>((resolve) => {
      if (socket.isConnected()) resolve();
      else socket.onOpen(() => resolve());
    }),
    2000,
    "socket did not open",
  );
}

export interface Outcome {
  status: PushStatus;
  response: unknown;
}

/** The first outcome of a push (ok, error or timeout). */
export function outcome(push: Push, timeoutMs = 2000): Promise<Outcome> {
  return withTimeout(
    new Promise<Outcome>((resolve) => {
      for (const status of ["ok", "error", "timeout"] as const) {
        push.receive(status, (response: unknown) => resolve({ status, response }));
      }
    }),
    timeoutMs,
    "push got no outcome",
  );
}

/** Every outcome of a join push, in order: rejoins reuse the same push and its hooks. */
export function outcomes(push: Push): Outcome[] {
  const seen: Outcome[] = [];
  for (const status of ["ok", "error", "timeout"] as const) {
    push.receive(status, (response: unknown) => seen.push({ status, response }));
  }
  return seen;
}

/** Records the payloads of one event on a channel. */
export function collect(channel: Channel, event: string): unknown[] {
  const got: unknown[] = [];
  channel.on(event, (payload: unknown) => {
    got.push(payload);
  });
  return got;
}

interface ClientMessage {
  join_ref: string | null;
  ref: string | null;
  topic: string;
  event: string;
  payload: unknown;
}

/** V1 for the JS client: JSON objects; the server never sends join_ref. */
export const v1Codec: Pick<SocketConnectOption, "encode" | "decode" | "vsn"> = {
  vsn: "1.0.0",
  encode(msg, callback) {
    const { join_ref, ref, topic, event, payload } = msg as ClientMessage;
    void callback(JSON.stringify({ topic, event, payload, ref, join_ref }));
  },
  decode(raw, callback) {
    const m = JSON.parse(raw) as Omit<ClientMessage, "join_ref">;
    void callback({ join_ref: null, ref: m.ref, topic: m.topic, event: m.event, payload: m.payload });
  },
};
