/**
 * @module
 * Joining the cluster: after subscribing, a node says hello on the ctl topic and every node
 * answers with a welcome naming the nodes it believes up. The first welcome tells us the
 * membership; we are ready once every node named has been heard from (any message counts), or
 * after the timeout: a welcome can be lost and a named node can be dying, and a node alone in
 * its cluster hears nothing at all.
 */
import type { NodeId } from "@nexus/bus";
import type { Clock } from "./clock.js";

export interface Startup {
  /** Resolves when the membership is known, or after `timeoutMs`. */
  readonly done: Promise<void>;
  welcome(from: NodeId, peers: readonly NodeId[]): void;
  heard(from: NodeId): void;
  /** Stops waiting (close). */
  cancel(): void;
}

export function awaitPeers(opts: {
  self: NodeId;
  clock: Clock;
  timeoutMs: number;
  sendHello(): void;
}): Startup {
  const { self, clock } = opts;
  const expected = new Set<NodeId>();
  const heard = new Set<NodeId>();
  let welcomed = false;
  let resolve = () => {};
  const done = new Promise<void>((r) => {
    resolve = r;
  });
  const finish = () => {
    clock.clearTimeout(timer);
    resolve();
  };
  const check = () => {
    if (!welcomed) return;
    for (const p of expected) if (!heard.has(p)) return;
    finish();
  };
  const timer = clock.setTimeout(finish, opts.timeoutMs);
  opts.sendHello();
  return {
    done,
    welcome(from, peers) {
      welcomed = true;
      heard.add(from);
      for (const p of peers) if (p !== self) expected.add(p);
      check();
    },
    heard(from) {
      heard.add(from);
      check();
    },
    cancel: finish,
  };
}
