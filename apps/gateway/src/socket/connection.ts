/**
 * @module
 * What the session needs from a transport: the few methods of uWS's WebSocket it calls, with
 * uWS's own signatures, so that the uWS socket itself is the connection and no wrapper object
 * exists per socket (idle sockets are the gateway's memory bill). Nothing in socket/ or
 * channels/ imports uWS, so the protocol core is testable without it.
 */

/** uWS's three-valued send result (STYLE principle 9): never folded into a boolean. */
export enum SendStatus {
  Backpressure = 0,
  Ok = 1,
  Dropped = 2,
}

export interface Connection {
  /** A SendStatus. */
  send(data: string | Uint8Array, isBinary: boolean): number;
  /** Join/leave a node-local fan-out topic (see fanout.ts for the naming). */
  subscribe(localTopic: string): boolean;
  unsubscribe(localTopic: string): boolean;
  isSubscribed(localTopic: string): boolean;
  /**
   * To every local subscriber of localTopic except this connection. uWS publishes nothing when
   * the sender holds no subscription at all: see fanout.ts, which checks isSubscribed first.
   */
  publish(localTopic: string, data: string | Uint8Array, isBinary: boolean): boolean;
  /** Batch several sends into one syscall; required for sends made outside a uWS callback. */
  cork(fn: () => void): unknown;
  end(code: number, reason: string): void;
}
