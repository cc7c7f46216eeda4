/**
 * @module
 * The AsyncAPI 3.0 document of the Phoenix socket, generated from the topic catalog and its zod
 * schemas (`z.toJSONSchema`, draft-07: the AsyncAPI Schema dialect). The committed copy
 * (apps/gateway/asyncapi.json) is checked against this in a test; `UPDATE_ASYNCAPI=1` rewrites it
 * (`pnpm --filter @nexus/gateway asyncapi`).
 *
 * Model: one server (the socket), one channel per topic pattern plus `phoenix` (heartbeat) and
 * `unmatched` (any topic not joined). A message's `headers` are the Phoenix envelope fields
 * (join_ref, ref, topic, event), its `payload` the Phoenix payload. Every client event is a
 * `receive` operation whose `reply` is the phx_reply (`{status, response}`) answering it; every
 * server event is a `send` operation.
 */
import { ControlEvent, PHOENIX_TOPIC, PhoenixReason } from "@nexus/protocol";
import { z } from "zod";
import { TOPICS, type TopicDoc } from "./catalog.js";
import {
  ENVELOPE_SCHEMAS,
  type Json,
  type MessageSpec,
  message,
  ref,
  reply,
  SCHEMAS,
  SHARED,
  schemaRef,
} from "./messages.js";
import { clientSchemas, Empty, Ignored, serverSchemas, UnknownEvent, UnmatchedTopic } from "./payloads.js";
import {
  HEARTBEAT_DESCRIPTION,
  INFO_DESCRIPTION,
  SERVER_DESCRIPTION,
  UNMATCHED_DESCRIPTION,
} from "./protocol-text.js";

/** Drops the per-schema `$schema`/`$id` that zod adds to every generated definition. */
function clean(schema: Json): Json {
  const { $schema: _s, $id: _i, ...rest } = schema;
  return rest;
}

function componentSchemas(): Record<string, Json> {
  const out: Record<string, Json> = {};
  for (const [registry, io] of [
    [clientSchemas, "input"],
    [serverSchemas, "output"],
  ] as const) {
    const generated = z.toJSONSchema(registry, {
      io,
      target: "draft-7",
      uri: (id) => `${SCHEMAS}${id}`,
    }) as { schemas: Record<string, Json> };
    for (const [id, schema] of Object.entries(generated.schemas)) {
      if (out[id] !== undefined) throw new Error(`asyncapi: two schemas named ${id}`);
      out[id] = clean(schema);
    }
  }
  for (const [id, schema] of Object.entries(ENVELOPE_SCHEMAS)) {
    if (out[id] !== undefined) throw new Error(`asyncapi: two schemas named ${id}`);
    out[id] = schema;
  }
  return out;
}

// ---- channels and operations --------------------------------------------------------------

class DocumentBuilder {
  readonly channels: Record<string, Json> = {};
  readonly operations: Record<string, Json> = {};
  readonly messages: Record<string, Json> = {};

  constructor() {
    for (const [key, spec] of Object.entries(SHARED)) this.messages[key] = message(spec);
  }

  channel(id: string, fields: Json): Json {
    const channel: Json = {
      ...fields,
      messages: {},
      servers: [ref("#/servers/gateway")],
      bindings: ref("#/components/channelBindings/socket"),
    };
    this.channels[id] = channel;
    return channel;
  }

  /** Adds a message to channel `id` under `key` (and to components.messages, or reuses a shared one). */
  message(id: string, key: string, spec?: MessageSpec): Json {
    const component = spec === undefined ? key : `${id}.${key}`;
    if (spec !== undefined) this.messages[component] = message(spec);
    if (this.messages[component] === undefined) throw new Error(`asyncapi: no message ${component}`);
    (this.channels[id]!.messages as Json)[key] = ref(`#/components/messages/${component}`);
    return ref(`#/channels/${id}/messages/${key}`);
  }

  receive(
    id: string,
    opId: string,
    op: { summary: string; description?: string },
    msg: Json,
    replies: Json[],
  ) {
    this.operations[`${id}.receive.${opId}`] = {
      action: "receive",
      channel: ref(`#/channels/${id}`),
      ...op,
      messages: [msg],
      reply: { channel: ref(`#/channels/${id}`), messages: replies },
    };
  }

  send(id: string, opId: string, op: { summary: string; description?: string }, msg: Json) {
    this.operations[`${id}.send.${opId}`] = {
      action: "send",
      channel: ref(`#/channels/${id}`),
      ...op,
      messages: [msg],
    };
  }

  /** One joinable topic: its events plus join, leave, close, error and unknown events. */
  topic(t: TopicDoc): void {
    const { id } = t;
    const parameters = Object.fromEntries(
      Object.entries(t.parameters).map(([name, description]) => [name, { description }]),
    );
    this.channel(id, {
      address: t.address,
      title: t.title,
      description: t.description,
      ...(Object.keys(parameters).length > 0 ? { parameters } : {}),
    });

    const join = this.message(id, "phx_join.request");
    const joined = this.message(id, "phx_join.ok");
    const refused = this.message(
      id,
      "phx_join.error",
      reply("Join refused", "error", schemaRef(t.joinRefusal)),
    );
    this.receive(id, ControlEvent.Join, { summary: `Join ${t.address}` }, join, [joined, refused]);
    const leave = this.message(id, "phx_leave.request");
    this.receive(id, ControlEvent.Leave, { summary: "Leave; phx_close follows the reply" }, leave, [
      this.message(id, "phx_leave.ok"),
    ]);

    for (const e of t.clientEvents) {
      const request = this.message(id, `${e.event}.request`, {
        kind: "request",
        event: e.event,
        summary: e.summary,
        payload: schemaRef(e.payload),
      });
      const ok = this.message(id, `${e.event}.ok`, reply(`${e.event} done`, "ok", schemaRef(e.ok)));
      const error = this.message(
        id,
        `${e.event}.error`,
        reply(`${e.event} refused`, "error", schemaRef(e.error)),
      );
      this.receive(id, e.event, { summary: e.summary, description: e.description }, request, [ok, error]);
    }

    const known = [ControlEvent.Join, ControlEvent.Leave, ...t.clientEvents.map((e) => e.event)];
    const unknown = this.message(id, "unknown_event.request", {
      kind: "request",
      event: { type: "string", not: { enum: known } },
      summary: "Any event the channel does not handle",
      payload: { description: "Any payload" },
    });
    const answer = this.message(
      id,
      "unknown_event.error",
      reply("Unknown event", "error", schemaRef(UnknownEvent)),
    );
    this.receive(id, "unknown_event", { summary: "Any other event: answered `unknown event`" }, unknown, [
      answer,
    ]);

    for (const e of t.serverEvents) {
      const msg = this.message(id, e.event, {
        kind: e.delivery,
        event: e.event,
        summary: e.summary,
        description: e.description,
        payload: schemaRef(e.payload),
      });
      this.send(id, e.event, { summary: e.summary }, msg);
    }
    this.send(id, ControlEvent.Close, { summary: "The channel ended" }, this.message(id, "phx_close"));
    this.send(id, ControlEvent.Error, { summary: "The channel crashed" }, this.message(id, "phx_error"));
  }

  heartbeat(): void {
    const id = PHOENIX_TOPIC;
    this.channel(id, { address: PHOENIX_TOPIC, title: "Heartbeat", description: HEARTBEAT_DESCRIPTION });
    const beat = this.message(id, "heartbeat.request", {
      kind: "request",
      event: ControlEvent.Heartbeat,
      summary: "Heartbeat (join_ref null)",
      payload: schemaRef(Ignored),
    });
    const ok = this.message(id, "heartbeat.ok", reply("Alive", "ok", schemaRef(Empty)));
    this.receive(id, ControlEvent.Heartbeat, { summary: "Heartbeat" }, beat, [ok]);
  }

  unmatched(): void {
    const id = "unmatched";
    this.channel(id, {
      address: "{topic}",
      title: "Any topic not joined",
      description: UNMATCHED_DESCRIPTION,
      parameters: { topic: { description: "Any topic no route serves, or that this socket has not joined" } },
    });
    const any = this.message(id, "event.request", {
      kind: "request",
      event: { type: "string", not: { enum: [ControlEvent.Leave] } },
      summary: "phx_join where no route serves the topic; any other event but phx_leave",
      payload: { description: "Any payload" },
    });
    const answer = this.message(
      id,
      "event.error",
      reply(PhoenixReason.UnmatchedTopic, "error", schemaRef(UnmatchedTopic)),
    );
    this.receive(id, "event", { summary: `Answered \`${PhoenixReason.UnmatchedTopic}\`` }, any, [answer]);
    const leave = this.message(id, "phx_leave.request");
    this.receive(id, ControlEvent.Leave, { summary: "Answered ok, with no phx_close" }, leave, [
      this.message(id, "phx_leave.ok"),
    ]);
  }
}

const WS_QUERY = {
  type: "object",
  properties: {
    vsn: {
      type: "string",
      description: "Serializer: `2.0.0` (V2 JSON and binary) or `1.0.0` (V1 JSON, also when absent)",
      examples: ["2.0.0"],
    },
    token: { type: "string", description: "The access token (unless sent as the authToken subprotocol)" },
  },
  additionalProperties: { type: "string", description: "Connect params" },
};
const WS_HEADERS = {
  type: "object",
  properties: {
    "Sec-WebSocket-Protocol": {
      type: "string",
      description:
        "`phoenix, base64url.bearer.phx.<token>` (phoenix.js authToken); the server echoes `phoenix`",
    },
    Origin: { type: "string", description: "Checked against ALLOWED_ORIGINS when it is set" },
  },
};

export function buildAsyncApi(topics: readonly TopicDoc[] = TOPICS): Json {
  const b = new DocumentBuilder();
  b.heartbeat();
  for (const t of topics) b.topic(t);
  b.unmatched();
  return {
    asyncapi: "3.0.0",
    info: { title: "Nexus Phoenix socket", version: "0.1.0", description: INFO_DESCRIPTION },
    defaultContentType: "application/json",
    servers: {
      gateway: {
        host: "{host}",
        pathname: "/socket/websocket",
        protocol: "ws",
        title: "A gateway node (or the standalone node)",
        description: SERVER_DESCRIPTION,
        variables: {
          host: {
            default: "localhost:4000",
            description: "The node's host and PORT, or the load balancer in front of the gateways",
          },
        },
        security: [ref("#/components/securitySchemes/token"), ref("#/components/securitySchemes/authToken")],
      },
    },
    channels: b.channels,
    operations: b.operations,
    components: {
      schemas: componentSchemas(),
      messages: b.messages,
      securitySchemes: {
        token: {
          type: "httpApiKey",
          in: "query",
          name: "token",
          description: "HS256 JWT access token whose `sub` is the user id",
        },
        authToken: {
          type: "httpApiKey",
          in: "header",
          name: "Sec-WebSocket-Protocol",
          description:
            "phoenix.js 1.8 `authToken`: `phoenix, base64url.bearer.phx.<base64 token, no padding>`",
        },
      },
      correlationIds: {
        ref: {
          description: "A phx_reply carries the ref of the message it answers",
          location: "$message.header#/ref",
        },
      },
      channelBindings: {
        socket: { ws: { method: "GET", query: WS_QUERY, headers: WS_HEADERS, bindingVersion: "0.1.0" } },
      },
    },
  };
}

/** The committed file's exact text. */
export function renderAsyncApi(): string {
  return `${JSON.stringify(buildAsyncApi(), null, 2)}\n`;
}
