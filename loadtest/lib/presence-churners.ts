/**
 * @module
 * Churner sockets: connected once, then joining and leaving their room whenever the open-loop
 * schedule (or the prefill) says so. A churner learns the phx_ref of its own presence from the
 * first presence_diff joining its key, which identifies the join for the observers' sightings.
 */
import { classify, FrameKind } from "./bench-frames.js";
import { nowUs } from "./clock.js";
import type { PresenceConn } from "./ipc.js";
import type { PhxSocket } from "./phx-client.js";
import { keyNeedle, OpKind, ownJoinRef } from "./presence-book.js";
import type { Churner, PresenceState } from "./presence-state.js";

const REQUEST_TIMEOUT_US = 10_000_000;

export function addChurner(st: PresenceState, phx: PhxSocket, spec: PresenceConn): void {
  const c: Churner = {
    phx,
    key: spec.key,
    needle: keyNeedle(spec.key),
    topic: spec.topic,
    room: spec.room,
    node: spec.node,
    state: "idle",
    joinRef: "",
    ref: undefined,
    prevRef: undefined,
    awaiting: undefined,
    out: undefined,
    onSettled: undefined,
  };
  phx.onText = (data) => churnerText(st, c, data);
  st.churners.push(c);
}

/** Sends the churner's join or leave as an op of `step` (0: the prefill, not measured). */
export function startOp(st: PresenceState, c: Churner, kind: OpKind, step: number): void {
  const ref = c.phx.nextRef();
  const sentUs = nowUs();
  c.out = { ref, kind, step, sentUs };
  st.outstanding.add(c);
  const k = st.countersOf(step);
  k.issued++;
  if (k.firstIssueUs === 0) k.firstIssueUs = sentUs;
  if (kind === OpKind.Join) {
    k.joinsIssued++;
    c.state = "joining";
    c.joinRef = ref;
    c.phx.sendText(`["${ref}","${ref}","${c.topic}","phx_join",{}]`);
  } else {
    k.leavesIssued++;
    c.state = "leaving";
    c.phx.sendText(`["${c.joinRef}","${ref}","${c.topic}","phx_leave",{}]`);
  }
}

/** Requests that never got a reply: the churner is out of the game (counted as an error). */
export function expireRequests(st: PresenceState): void {
  const now = nowUs();
  for (const c of st.outstanding) {
    if (now - c.out!.sentUs <= REQUEST_TIMEOUT_US) continue;
    st.noteError(c.out!.step, `${c.out!.kind === OpKind.Join ? "join" : "leave"} timeout`);
    st.outstanding.delete(c);
    c.out = undefined;
    c.state = "broken";
    settle(c);
  }
}

function churnerText(st: PresenceState, c: Churner, data: Buffer): boolean {
  const kind = classify(data);
  if (kind === FrameKind.Broadcast) {
    // Only while the ref of the current join is unknown: the first diff joining our key.
    if (c.state === "joined" && c.ref === undefined) {
      const ref = ownJoinRef(data, c.needle, c.prevRef);
      if (ref !== undefined) learned(st, c, ref);
    }
    return true;
  }
  if (kind === FrameKind.HeartbeatOk || kind === FrameKind.Push) return true;
  // A reply (ok or error) or a phx_close: few per op, worth a parse.
  const out = c.out;
  if (!out) return true;
  let frame: unknown;
  try {
    frame = JSON.parse(data.toString("utf8"));
  } catch {
    return true;
  }
  if (!Array.isArray(frame) || frame[3] !== "phx_reply" || frame[1] !== out.ref) return true;
  const at = nowUs();
  const status = (frame[4] as { status?: unknown } | undefined)?.status;
  c.out = undefined;
  st.outstanding.delete(c);
  if (status !== "ok") {
    st.noteError(out.step, `${out.kind === OpKind.Join ? "join" : "leave"}: ${data.toString("utf8")}`);
    c.state = out.kind === OpKind.Join ? "idle" : "broken";
    if (c.state === "idle") st.idleQ.push(c);
    settle(c);
    return true;
  }
  const k = st.countersOf(out.step);
  k.acked++;
  k.ackHistObj.record(at - out.sentUs);
  if (at > k.lastAckUs) k.lastAckUs = at;
  if (out.kind === OpKind.Join) {
    c.state = "joined";
    c.awaiting = st.book.joined(out.step, c.node, out.sentUs, at);
  } else {
    st.book.left(out.step, c.node, c.ref!, out.sentUs, at);
    c.prevRef = c.ref;
    c.ref = undefined;
    c.state = "idle";
    st.idleQ.push(c);
  }
  return true;
}

function learned(st: PresenceState, c: Churner, ref: string): void {
  c.ref = ref;
  if (c.awaiting) st.book.bind(c.awaiting, ref);
  c.awaiting = undefined;
  st.joinedQ.push(c);
  settle(c);
}

function settle(c: Churner): void {
  const cb = c.onSettled;
  c.onSettled = undefined;
  cb?.();
}
