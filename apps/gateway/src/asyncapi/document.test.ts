/**
 * The committed AsyncAPI document (apps/gateway/asyncapi.json) is exactly what the code
 * generates, and is structurally valid AsyncAPI 3.0 (checked here by hand: no validator is
 * installed). After changing a channel or a payload, `pnpm --filter @nexus/gateway asyncapi`
 * rewrites it (UPDATE_ASYNCAPI=1, then biome's layout).
 */
import { readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { TOPICS } from "./catalog.js";
import { buildAsyncApi, renderAsyncApi } from "./document.js";
import { ConversationView, ProfileView } from "./payloads.js";

const FILE = fileURLToPath(new URL("../../asyncapi.json", import.meta.url));
const API_OPENAPI = fileURLToPath(new URL("../../../api/openapi.json", import.meta.url));

type Json = Record<string, unknown>;
interface Doc {
  asyncapi: string;
  info: { title: string; version: string };
  servers: Record<string, Json>;
  channels: Record<string, { address: string; messages: Record<string, Json>; parameters?: Json }>;
  operations: Record<
    string,
    { action: string; channel: Json; messages: Json[]; reply?: { channel: Json; messages: Json[] } }
  >;
  components: { schemas: Record<string, Json>; messages: Record<string, Json> };
}

const doc = buildAsyncApi() as unknown as Doc;

/** Follows a local JSON pointer ("#/a/b"), or undefined when it leads nowhere. */
function resolve(pointer: string): unknown {
  if (!pointer.startsWith("#/")) return undefined;
  let at: unknown = doc;
  for (const raw of pointer.slice(2).split("/")) {
    const key = raw.replaceAll("~1", "/").replaceAll("~0", "~");
    if (typeof at !== "object" || at === null || !Object.hasOwn(at, key)) return undefined;
    at = (at as Json)[key];
  }
  return at;
}
const deref = (x: Json) => (typeof x.$ref === "string" ? (resolve(x.$ref) as Json | undefined) : x);

describe("AsyncAPI document", () => {
  it("the committed file matches the generated one", () => {
    const generated = renderAsyncApi();
    if (process.env.UPDATE_ASYNCAPI === "1") writeFileSync(FILE, generated);
    // Compared as JSON: the formatter (biome) may lay the committed file out differently.
    expect(JSON.parse(readFileSync(FILE, "utf8"))).toEqual(JSON.parse(generated));
  });

  it("is AsyncAPI 3.0.0 with one ws server and a channel per topic", () => {
    expect(doc.asyncapi).toBe("3.0.0");
    expect(doc.info.title).toBeTruthy();
    expect(doc.info.version).toBeTruthy();
    expect(Object.values(doc.servers).map((s) => s.protocol)).toEqual(["ws"]);
    expect(Object.values(doc.channels).map((c) => c.address)).toEqual([
      "phoenix",
      ...TOPICS.map((t) => t.address),
      "{topic}",
    ]);
    expect(JSON.stringify(doc)).not.toContain('"$schema"');
  });

  it("every $ref resolves", () => {
    const refs = [...JSON.stringify(doc).matchAll(/"\$ref":"([^"]+)"/g)].map((m) => m[1]!);
    expect(refs.length).toBeGreaterThan(100);
    for (const r of new Set(refs)) expect(resolve(r), r).toBeDefined();
  });

  it("channel parameters are exactly the address's {expressions}", () => {
    for (const [id, channel] of Object.entries(doc.channels)) {
      const inAddress = [...channel.address.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]).sort();
      expect(Object.keys(channel.parameters ?? {}).sort(), id).toEqual(inAddress);
    }
  });

  it("operations use their channel's messages, and every message has headers and a payload", () => {
    const used = new Set<string>();
    for (const [id, op] of Object.entries(doc.operations)) {
      expect(["send", "receive"], id).toContain(op.action);
      const channel = op.channel.$ref as string;
      expect(channel, id).toMatch(/^#\/channels\/[^/]+$/);
      const groups = [{ channel, messages: op.messages }];
      if (op.reply) {
        expect(op.action, `${id}: only the gateway replies`).toBe("receive");
        groups.push({ channel: op.reply.channel.$ref as string, messages: op.reply.messages });
      }
      for (const g of groups) {
        expect(g.messages.length, id).toBeGreaterThan(0);
        for (const m of g.messages) {
          // AsyncAPI 3: an operation's messages are a subset of its channel's.
          expect((m.$ref as string).startsWith(`${g.channel}/messages/`), `${id} → ${m.$ref}`).toBe(true);
          used.add(m.$ref as string);
        }
      }
    }
    for (const [id, channel] of Object.entries(doc.channels)) {
      expect(Object.keys(channel.messages).length, id).toBeGreaterThan(0);
      for (const [key, m] of Object.entries(channel.messages)) {
        const pointer = `#/channels/${id}/messages/${key}`;
        expect(used.has(pointer), `${pointer} is in no operation`).toBe(true);
        const message = deref(m)!;
        expect(message.payload, pointer).toBeTypeOf("object");
        expect(deref(message.payload as Json), pointer).toBeDefined();
        const headers = message.headers as { allOf: Json[]; properties: { event: Json } };
        expect(deref(headers.allOf[0]!)!.required, pointer).toEqual(["join_ref", "ref", "topic", "event"]);
        expect(headers.properties.event.type, pointer).toBe("string");
      }
    }
  });

  it("every client event has an ok and an error reply; every reply is a phx_reply", () => {
    for (const [id, op] of Object.entries(doc.operations)) {
      if (op.action !== "receive") continue;
      const replies = op.reply!.messages.map((m) => deref(resolve(m.$ref as string) as Json)!);
      for (const r of replies) {
        expect(((r.headers as Json).properties as Json).event, id).toEqual({
          type: "string",
          const: "phx_reply",
        });
        const status = ((r.payload as Json).properties as { status: { const: string } }).status.const;
        expect(["ok", "error"], id).toContain(status);
      }
    }
    for (const t of TOPICS) {
      for (const e of t.clientEvents) {
        const op = doc.operations[`${t.id}.receive.${e.event}`]!;
        expect(
          op.reply!.messages.map((m) => (m.$ref as string).split("/").pop()),
          `${t.id} ${e.event}`,
        ).toEqual([`${e.event}.ok`, `${e.event}.error`]);
      }
    }
  });

  it("the user channel's payloads are the api's Conversation and Profile", () => {
    const api = JSON.parse(readFileSync(API_OPENAPI, "utf8")) as { components: { schemas: Json } };
    for (const [name, schema] of [
      ["Conversation", ConversationView],
      ["Profile", ProfileView],
    ] as const) {
      const { $schema: _, ...ours } = z.toJSONSchema(schema, { io: "output" }) as Json;
      expect(ours, name).toEqual(api.components.schemas[name]);
    }
  });
});
