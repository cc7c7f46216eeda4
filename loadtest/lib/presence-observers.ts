/**
 * @module
 * Observer sockets: one per room and node, joined before any churner moves, keeping a
 * phoenix.js-style view (presence_state, then every presence_diff) and reporting every churner
 * ref they see join or leave to the convergence book.
 */
import { classify, FrameKind } from "./bench-frames.js";
import { nowUs } from "./clock.js";
import type { PresenceConn } from "./ipc.js";
import type { PhxSocket } from "./phx-client.js";
import {
  applyDiff,
  PRESENCE_DIFF,
  PRESENCE_STATE,
  viewFromState,
  type WirePresenceMap,
} from "./presence-book.js";
import type { Observer, PresenceState } from "./presence-state.js";

/** Joins `phx` to the spec's room as an observer; resolves once its first presence_state is in. */
export async function joinObserver(
  st: PresenceState,
  phx: PhxSocket,
  spec: PresenceConn,
  timeoutMs: number,
): Promise<void> {
  const o: Observer = {
    phx,
    topic: spec.topic,
    room: spec.room,
    node: spec.node,
    key: spec.key,
    view: new Map(),
    stateSeen: false,
    buffered: [],
    onState: undefined,
  };
  phx.onText = (data) => observerText(st, o, data);
  const reply = await phx.join(spec.topic, {}, timeoutMs);
  if (reply.status !== "ok")
    throw new Error(`observer join ${reply.status}: ${JSON.stringify(reply.response)}`);
  const t0 = Date.now();
  while (!o.stateSeen) {
    if (Date.now() - t0 > timeoutMs) throw new Error("observer: no presence_state after join");
    await new Promise((r) => setTimeout(r, 10));
  }
  st.observers.push(o);
}

function observerText(st: PresenceState, o: Observer, data: Buffer): boolean {
  const kind = classify(data);
  if (kind === FrameKind.Broadcast) {
    if (data.indexOf(PRESENCE_DIFF) < 0) return true;
    const at = nowUs();
    let frame: unknown;
    try {
      frame = JSON.parse(data.toString("utf8"));
    } catch {
      return true;
    }
    st.diffsParsed++;
    const diff = (frame as unknown[])[4];
    if (!o.stateSeen) o.buffered.push(diff);
    else applyObserved(st, o, diff, at);
    return true;
  }
  if (kind === FrameKind.Push) {
    if (data.indexOf(PRESENCE_STATE) < 0) return true;
    let frame: unknown;
    try {
      frame = JSON.parse(data.toString("utf8"));
    } catch {
      return true;
    }
    const state = ((frame as unknown[])[4] ?? {}) as WirePresenceMap;
    if (o.onState) {
      const cb = o.onState;
      o.onState = undefined;
      cb(state);
      return true;
    }
    o.view = viewFromState(state);
    const at = nowUs();
    if (!o.stateSeen) {
      o.stateSeen = true;
      for (const d of o.buffered.splice(0)) applyObserved(st, o, d, at);
    }
    return true;
  }
  // Replies: matched to the pending join/leave by PhxSocket.
  return false;
}

function applyObserved(st: PresenceState, o: Observer, diff: unknown, at: number): void {
  applyDiff(o.view, diff as { joins?: WirePresenceMap; leaves?: WirePresenceMap }, (kind, key, ref) => {
    if (st.churnKeys.has(key)) st.book.sighted(kind, ref, o.node, at);
  });
}
