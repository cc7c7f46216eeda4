/**
 * @module
 * The prose of the AsyncAPI document about the socket itself: frames, lifecycle, connection,
 * auth and close codes (PROTOCOL.md §1–§4, DESIGN.md §4.3 and §4.6), with the numbers and
 * reasons taken from @nexus/protocol so they cannot drift from what the gateway sends.
 */
import { CloseCode, ControlEvent, PHOENIX_TOPIC, PhoenixReason } from "@nexus/protocol";

export const INFO_DESCRIPTION = `The Phoenix Channels socket of Nexus, as phoenix.js 1.8 speaks it (PROTOCOL.md in the repository). This document describes the gateway: \`receive\` operations are what clients send it, \`send\` operations are what it sends them, and the \`reply\` of a receive operation is the \`${ControlEvent.Reply}\` that answers it.

**Frames.** Every message has the envelope fields \`join_ref\`, \`ref\`, \`topic\` and \`event\` (the message \`headers\` below) and a \`payload\`.
- V2 (\`vsn=2.0.0\`, phoenix.js's default): text frames \`[join_ref, ref, topic, event, payload]\`, with \`null\` for an absent ref. Binary frames carry a raw payload: from clients only kind 0 (push: \`0, len(join_ref), len(ref), len(topic), len(event)\`, then those strings and the bytes); from the server kind 0 (push, without ref), 1 (reply, with the status in place of the event) and 2 (broadcast, topic and event only). Header strings are at most 255 bytes.
- V1 (\`vsn=1.0.0\`, or no vsn): text frames \`{"topic", "event", "payload", "ref"}\`. Client frames must have \`ref\` (it may be null) and may have \`join_ref\`; server frames never carry \`join_ref\`; there are no binary frames.
- A reply is \`${ControlEvent.Reply}\` with payload \`{"status": "ok" | "error", "response": {…}}\` and the \`ref\` of the message it answers. A push (to one socket) carries the channel's \`join_ref\`; a broadcast carries \`join_ref\` null.

**Lifecycle, on every topic.**
- \`${ControlEvent.Join}\` on a topic no route serves is answered \`${PhoenixReason.UnmatchedTopic}\` (with \`join_ref\` null). On a routed topic the channel decides: its refusals are listed with each channel, plus \`${PhoenixReason.TooManyChannels}\` (more than 100 channels on one socket) and \`${PhoenixReason.JoinCrashed}\` (the join failed inside the server). A refused join leaves the topic unjoined and sends no \`${ControlEvent.Close}\` of its own.
- Joining a topic the socket has already joined ends that channel, whether or not the new join succeeds: the new join's reply comes first, then \`${ControlEvent.Close}\` for the old \`join_ref\`.
- \`${ControlEvent.Leave}\` is answered ok, then the channel sends \`${ControlEvent.Close}\`. A leave for a topic that is not joined is answered ok; a leave carrying another join's \`join_ref\` is ignored.
- Any other event on a topic the socket has not joined is answered \`${PhoenixReason.UnmatchedTopic}\`. An event whose \`join_ref\` is neither null nor the channel's (the client raced a server-side close) is dropped without a reply.
- An event a channel does not handle is answered \`{"reason": "unknown event", "event": …}\`; the channel stays joined.
- A channel that fails unexpectedly (while handling an event, or right after its join) sends \`${ControlEvent.Error}\` \`{"reason": "${PhoenixReason.ChannelCrash}"}\` and is gone (phoenix.js rejoins).
- Frames are handled in order. A join holds back the socket's later frames (heartbeats excepted) until it has been answered; each channel handles its events one at a time.

**Topics are exact strings.** A broadcast reaches the sockets joined to that very string: where a channel accepts an id in either case (\`chat:\`), sockets that spell it differently do not hear each other.

**Heartbeat.** \`${ControlEvent.Heartbeat}\` on topic \`${PHOENIX_TOPIC}\` is answered at once, joined channels or not.`;

export const SERVER_DESCRIPTION = `\`GET /socket/websocket?vsn=2.0.0&token=<JWT>\`, upgraded to a WebSocket (use \`wss\` behind TLS).

**Auth.** An HS256 JWT access token (the api's \`auth_token\` from register, login or refresh, or one minted by a backend sharing \`JWT_SECRET\`) whose \`sub\` is the user's UUID; \`exp\` is honoured. It comes as the \`token\` query param, or through phoenix.js 1.8's \`authToken\` option: the subprotocol \`base64url.bearer.phx.<standard base64 of the token, padding removed>\` offered next to \`phoenix\`, which the server echoes. Other query params are the connect params; the token is not among them.

**Refused connects** get a bare HTTP 403 before the upgrade: a \`vsn\` other than \`~> 1.0.0\` or \`~> 2.0.0\`, an \`Origin\` outside \`ALLOWED_ORIGINS\`, subprotocols without \`phoenix\` or with a malformed bearer entry, a missing, invalid, expired or revoked token. A request without upgrade headers gets 400.

**Closes** (phoenix.js reconnects after every one of them):

| code | when |
| --- | --- |
| ${CloseCode.GoingAway} | sign-out everywhere, password change or reset (after \`signed_out\` on \`user:{user_id}\`) |
| ${CloseCode.MessageTooBig} | a frame over \`MAX_FRAME_BYTES\` (64 KB by default) |
| ${CloseCode.ServerError} | a malformed frame (not JSON, wrong shape, a binary frame of another kind, binary on V1), which gets no reply; or a server error |
| ${CloseCode.ServiceRestart} | the node is draining (shutdown or deploy): reconnect, to another node |
| 1006 (no close frame) | nothing received for \`SOCKET_IDLE_TIMEOUT_S\` (60 s by default; heartbeats count); a slow consumer over its send buffer limit; invalid UTF-8 in a text frame; a frame over 1 MiB (or over \`MAX_FRAME_BYTES\` when that is larger) |`;

export const HEARTBEAT_DESCRIPTION =
  "phoenix.js sends a heartbeat every 30 s and reconnects when one goes unanswered for 30 s. The gateway answers at once, before any topic routing, whatever channels are joined; other events on this topic are answered `unmatched topic`.";

export const UNMATCHED_DESCRIPTION = `What any topic answers that no route serves, or that this socket has not joined: \`${ControlEvent.Join}\` on a topic no route serves, and any other event on a topic not joined, get \`${PhoenixReason.UnmatchedTopic}\` (\`join_ref\` null); \`${ControlEvent.Leave}\` gets ok.`;
