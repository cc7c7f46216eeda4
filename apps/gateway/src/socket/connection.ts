/**
 * @module
 * What the session needs from a transport. The uWS implementation is uws-connection.ts;
 * nothing in socket/ or channels/ imports uWS, so the protocol core is testable without it.
 */
import type { Frame } from "@nexus/protocol";

/** uWS's three-valued send result (STYLE principle 9): never folded into a boolean. */
export enum SendStatus {
  Backpressure = 0,
  Ok = 1,
  Dropped = 2,
}

export interface Connection {
  send(frame: Frame): SendStatus;
  /** Join/leave a node-local fan-out topic (see fanout.ts for the naming). */
  subscribe(localTopic: string): void;
  unsubscribe(localTopic: string): void;
  /** Publish to every local subscriber of localTopic except this connection. */
  publishFrom(localTopic: string, frame: Frame): void;
  /** Batch several sends into one syscall; required for sends made outside a uWS callback. */
  cork(fn: () => void): void;
  close(code: number, reason: string): void;
}
