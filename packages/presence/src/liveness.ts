/**
 * @module
 * Which other nodes are alive: any message from a node counts as a heartbeat. A node silent for
 * the down period is declared down (its entries leave everywhere, kept for a comeback with the
 * same refs); after the permdown period it is forgotten. A graceful leave drops it at once.
 */
import type { NodeId } from "@nexus/bus";
import type { Clock } from "./clock.js";
import { type PresenceState, removeReplica, replicaDown, replicaUp } from "./state.js";
import type { PresenceDiff, Replica } from "./types.js";

export interface LivenessDeps {
  state: PresenceState;
  clock: Clock;
  heartbeatMs: number;
  downPeriodMs: number;
  permdownMs: number;
  emit(diffs: Map<string, PresenceDiff>): void;
  /** A down node was heard again (its join diffs are already out). */
  onRevived(node: NodeId): void;
  /** A node went down or left: nobody should wait for its answers. */
  onGone(node: NodeId): void;
}

export interface Liveness {
  /** Records a message from `r`; false when it must be ignored (an older boot, or one that left). */
  heard(r: Replica): boolean;
  left(r: Replica): void;
  /** Declares silent nodes down (or forgotten); runs every heartbeat. */
  check(): void;
  upPeers(): NodeId[];
  counts(): { peersUp: number; peersDown: number };
}

export function createLiveness(d: LivenessDeps): Liveness {
  const { state, clock } = d;
  const lastSeen = new Map<NodeId, number>();
  // A check that runs this late means this process stalled (GC, a long task, a paused VM):
  // heartbeats may sit unread in the socket, so silence is judged on the next check instead.
  const stallMs = Math.max(2 * d.heartbeatMs, d.downPeriodMs / 2);
  let lastCheck = clock.now();

  return {
    heard(r) {
      const res = replicaUp(state, r);
      d.emit(res.diffs);
      if (!res.accepted) return false;
      lastSeen.set(r.node, clock.now());
      if (res.revived) d.onRevived(r.node);
      return true;
    },

    left(r) {
      d.emit(removeReplica(state, r).diffs);
      if (state.replicas.get(r.node)?.gone) {
        lastSeen.delete(r.node);
        d.onGone(r.node);
      }
    },

    check() {
      const now = clock.now();
      const stalled = now - lastCheck > stallMs;
      lastCheck = now;
      if (stalled) return;
      for (const [node, seen] of lastSeen) {
        const info = state.replicas.get(node);
        if (!info || info.gone) {
          lastSeen.delete(node);
          continue;
        }
        const silent = now - seen;
        if (info.up && silent > d.downPeriodMs) {
          d.emit(replicaDown(state, { node, vsn: info.vsn }).diffs);
          d.onGone(node);
        } else if (!info.up && silent > d.permdownMs) {
          removeReplica(state, { node, vsn: info.vsn }); // down: no diffs, nobody sees it any more
          lastSeen.delete(node);
        }
      }
    },

    upPeers() {
      const up: NodeId[] = [];
      for (const node of lastSeen.keys()) if (state.replicas.get(node)?.up) up.push(node);
      return up;
    },

    counts() {
      let peersUp = 0;
      for (const node of lastSeen.keys()) if (state.replicas.get(node)?.up) peersUp++;
      return { peersUp, peersDown: lastSeen.size - peersUp };
    },
  };
}
