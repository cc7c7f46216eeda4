/** @module The Phoenix Channels message as both serializers see it, and the event names the protocol fixes. */

/**
 * A ref chosen by the client. phoenix.js always sends strings, but Phoenix echoes whatever JSON
 * value it got, and some non-JS clients send integers. A number is therefore kept as a number so
 * the reply carries the same JSON token back (`"ref":7`, not `"ref":"7"`) and the client's `===`
 * match still works. Compare refs with `===`: `7` and `"7"` are different refs, as in Elixir.
 * In a V2 binary frame (whose header fields are strings) a number is written as its decimal string
 * and `null` as the empty field, like Phoenix's `to_string/1`.
 */
export type Ref = string | number | null;

/**
 * A payload is either binary (a `Uint8Array`, only on V2) or any parsed JSON value. JSON never
 * produces a `Uint8Array`, so `payload instanceof Uint8Array` (see {@link isBinaryPayload}) tells the
 * two apart without a tag. It is typed `unknown` because app code passes its own interfaces, which a
 * recursive `JsonValue` type would reject for lack of an index signature.
 */
export type Payload = unknown;

export interface Message {
  joinRef: Ref;
  ref: Ref;
  topic: string;
  event: string;
  payload: Payload;
}

export function isBinaryPayload(payload: Payload): payload is Uint8Array {
  return payload instanceof Uint8Array;
}

/** The topic of socket-level messages (heartbeats), answered before any topic routing. */
export const PHOENIX_TOPIC = "phoenix";

export const ControlEvent = {
  Join: "phx_join",
  Leave: "phx_leave",
  Reply: "phx_reply",
  /** Server → client: the channel is gone for good; the client removes it and does not rejoin. */
  Close: "phx_close",
  /** Server → client: the channel crashed; the client rejoins with backoff. */
  Error: "phx_error",
  Heartbeat: "heartbeat",
} as const;
export type ControlEvent = (typeof ControlEvent)[keyof typeof ControlEvent];

export const PresenceEvent = {
  /** A push (carries join_ref) sent after every successful join. */
  State: "presence_state",
  /** A broadcast (join_ref null); always has both `joins` and `leaves`. */
  Diff: "presence_diff",
} as const;

/**
 * Reply statuses. Apps may use any other string too, but never "timeout": the JS client
 * synthesizes that status itself and could not tell a real one apart.
 */
export const ReplyStatus = { Ok: "ok", Error: "error" } as const;

/** The `reason` strings Phoenix itself puts on the wire; clients and tests match them literally. */
export const PhoenixReason = {
  UnmatchedTopic: "unmatched topic",
  JoinCrashed: "join crashed",
  TooManyChannels: "too many channels joined",
  ChannelCrash: "channel_crash",
} as const;
