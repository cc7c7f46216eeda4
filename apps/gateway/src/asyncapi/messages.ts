/**
 * @module
 * AsyncAPI messages for Phoenix frames: the envelope each kind of frame has (PROTOCOL.md §2), as
 * message `headers`, and the messages every joinable topic shares (join, leave, close, error).
 */
import { ControlEvent } from "@nexus/protocol";
import type { z } from "zod";
import { ChannelCrash, clientSchemas, Empty, Ignored, JoinParams, serverSchemas } from "./payloads.js";

export type Json = Record<string, unknown>;

export const SCHEMAS = "#/components/schemas/";
export const ref = ($ref: string): Json => ({ $ref });

/** A `$ref` to a payload schema registered in payloads.ts. */
export function schemaRef(schema: z.ZodType): Json {
  const meta = clientSchemas.get(schema) ?? serverSchemas.get(schema);
  if (meta === undefined) throw new Error("asyncapi: a payload schema is not registered with an id");
  return ref(`${SCHEMAS}${meta.id}`);
}

/** How a frame's refs are set: by the client, or by the gateway for a reply, push, broadcast or control. */
export type Kind = "request" | "reply" | "push" | "broadcast" | "control";

const ENVELOPE: Record<Kind, string> = {
  request: "RequestEnvelope",
  reply: "ReplyEnvelope",
  push: "PushEnvelope",
  broadcast: "BroadcastEnvelope",
  control: "ControlEnvelope",
};

const REF = { type: ["string", "number", "null"] };
function envelope(description: string, joinRef: Json, ref: Json): Json {
  return {
    type: "object",
    description: `The Phoenix envelope (V2 [join_ref, ref, topic, event, payload]; V1 {topic, event, payload, ref}): ${description}`,
    properties: {
      join_ref: joinRef,
      ref,
      topic: { type: "string", description: "The channel's address" },
      event: { type: "string" },
    },
    required: ["join_ref", "ref", "topic", "event"],
  };
}

/** The envelope of each kind of frame (PROTOCOL.md §2), as components.schemas. */
export const ENVELOPE_SCHEMAS: Record<string, Json> = {
  RequestEnvelope: envelope(
    "from the client",
    { ...REF, description: "The channel's join_ref (for phx_join: equal to ref); null is accepted" },
    { ...REF, description: "Chosen by the client (phoenix.js: a string); the reply carries it back" },
  ),
  ReplyEnvelope: envelope(
    "a phx_reply",
    { ...REF, description: "The channel's join_ref (null for unmatched topic and heartbeats)" },
    { ...REF, description: "The ref of the message answered" },
  ),
  PushEnvelope: envelope(
    "a push to one socket",
    { ...REF, description: "The channel's join_ref (null only if its join had none)" },
    { type: "null" },
  ),
  BroadcastEnvelope: envelope("a broadcast to every subscriber", { type: "null" }, { type: "null" }),
  ControlEnvelope: envelope(
    "phx_close or phx_error",
    { ...REF, description: "The channel's join_ref" },
    { ...REF, description: "Equal to join_ref" },
  ),
};

function headers(kind: Kind, event: Json): Json {
  return { type: "object", allOf: [ref(`${SCHEMAS}${ENVELOPE[kind]}`)], properties: { event } };
}

const exactly = (event: string): Json => ({ type: "string", const: event });

function replyPayload(status: "ok" | "error", response: Json): Json {
  return {
    type: "object",
    properties: { status: { type: "string", const: status }, response },
    required: ["status", "response"],
    additionalProperties: false,
  };
}

const CORRELATION = ref("#/components/correlationIds/ref");

export interface MessageSpec {
  kind: Kind;
  /** The Phoenix event (a JSON Schema when it is not one name). */
  event: string | Json;
  summary: string;
  description?: string;
  payload: Json;
}

export function message(spec: MessageSpec): Json {
  const event = typeof spec.event === "string" ? exactly(spec.event) : spec.event;
  const correlated = spec.kind === "request" || spec.kind === "reply";
  return {
    ...(typeof spec.event === "string" ? { name: spec.event } : {}),
    summary: spec.summary,
    ...(spec.description === undefined ? {} : { description: spec.description }),
    headers: headers(spec.kind, event),
    payload: spec.payload,
    ...(correlated ? { correlationId: CORRELATION } : {}),
  };
}

export const reply = (summary: string, status: "ok" | "error", response: Json): MessageSpec => ({
  kind: "reply",
  event: ControlEvent.Reply,
  summary,
  payload: replyPayload(status, response),
});

/** Messages every joinable topic shares (their topic is the channel's address). */
export const SHARED: Record<string, MessageSpec> = {
  "phx_join.request": {
    kind: "request",
    event: ControlEvent.Join,
    summary: "Join the topic (join_ref = ref)",
    payload: schemaRef(JoinParams),
  },
  "phx_join.ok": reply("Joined", "ok", schemaRef(Empty)),
  "phx_leave.request": {
    kind: "request",
    event: ControlEvent.Leave,
    summary: "Leave the topic",
    payload: schemaRef(Ignored),
  },
  "phx_leave.ok": reply("Left (also for a topic that was not joined)", "ok", schemaRef(Empty)),
  phx_close: {
    kind: "control",
    event: ControlEvent.Close,
    summary: "The channel is gone for good (phoenix.js does not rejoin)",
    description:
      "After the reply to phx_leave; after a duplicate join's reply (old join_ref); when the channel ends by itself (a removed member's conversation topics).",
    payload: schemaRef(Empty),
  },
  phx_error: {
    kind: "control",
    event: ControlEvent.Error,
    summary: "The channel crashed (phoenix.js rejoins with backoff)",
    payload: schemaRef(ChannelCrash),
  },
};
