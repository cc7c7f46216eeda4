/** @module Tests: V1 serializer: PROTOCOL.md §8 test 3, V1-only rules, decode errors as values. */
import { describe, expect, it } from "vitest";
import type { DecodeResult } from "./serializer.js";
import { frame, utf8 } from "./test-bytes.js";
import { v1JsonSerializer as v1 } from "./v1-json.js";

function ok(r: DecodeResult) {
  if (!r.ok) throw new Error(`expected ok, got ${r.error}: ${r.detail}`);
  return r.message;
}

describe("V1 (PROTOCOL.md §8 test 3)", () => {
  it("decodes a join without join_ref and answers without a join_ref key", () => {
    const m = ok(v1.decode('{"topic":"room:a","event":"phx_join","payload":{},"ref":"1"}', false));
    expect(m).toEqual({ joinRef: null, ref: "1", topic: "room:a", event: "phx_join", payload: {} });
    const reply = '{"topic":"room:a","event":"phx_reply","payload":{"status":"ok","response":{}},"ref":"1"}';
    expect(v1.encodeReply(m.joinRef, m.ref, m.topic, "ok", {})).toEqual({ data: reply, binary: false });
    // Even when the channel has a join_ref, V1 never puts it on the wire.
    expect(v1.encodeReply("11", "1", "room:a", "ok", {}).data).toBe(reply);
  });

  it("reads join_ref when the client sends one", () => {
    const text = '{"topic":"room:a","event":"new_msg","payload":{"body":"x"},"ref":"2","join_ref":"1"}';
    expect(ok(v1.decode(utf8(text), false)).joinRef).toBe("1");
    const nullJoinRef = '{"topic":"room:a","event":"new_msg","payload":{},"ref":"2","join_ref":null}';
    expect(ok(v1.decode(nullJoinRef, false)).joinRef).toBeNull();
  });

  it("accepts ref: null (the key must be present, not its value)", () => {
    expect(ok(v1.decode('{"topic":"t","event":"e","payload":{},"ref":null}', false)).ref).toBeNull();
  });

  it("keeps a numeric ref a number and echoes it unchanged", () => {
    const m = ok(v1.decode('{"topic":"phoenix","event":"heartbeat","payload":{},"ref":42}', false));
    expect(v1.encodeReply(m.joinRef, m.ref, m.topic, "ok", {}).data).toBe(
      '{"topic":"phoenix","event":"phx_reply","payload":{"status":"ok","response":{}},"ref":42}',
    );
  });

  it("encodes pushes, broadcasts and phx_close as {topic, event, payload, ref}", () => {
    expect(v1.encodePush("1", "room:a", "joined", { a: 1 }).data).toBe(
      '{"topic":"room:a","event":"joined","payload":{"a":1},"ref":null}',
    );
    expect(v1.encodeBroadcast("room:a", "new_msg", { b: 2 }).data).toBe(
      '{"topic":"room:a","event":"new_msg","payload":{"b":2},"ref":null}',
    );
    expect(v1.encodeBroadcastJson("room:a", "new_msg", '{"b":2}').data).toBe(
      '{"topic":"room:a","event":"new_msg","payload":{"b":2},"ref":null}',
    );
    // A V1 join without join_ref: the gateway passes ref null for phx_close (PROTOCOL.md §2).
    const close = { joinRef: null, ref: null, topic: "room:a", event: "phx_close", payload: {} };
    expect(v1.encodeMessage(close).data).toBe(
      '{"topic":"room:a","event":"phx_close","payload":{},"ref":null}',
    );
  });

  it("cannot send binary payloads", () => {
    const bin = Uint8Array.of(1);
    const binaryUnsupported = expect.objectContaining({ name: "EncodeError", kind: "binary_unsupported" });
    expect(() => v1.encodePush("1", "t", "e", bin)).toThrow(binaryUnsupported);
    expect(() => v1.encodeBroadcast("t", "e", bin)).toThrow(binaryUnsupported);
    expect(() => v1.encodeReply("1", "1", "t", "ok", bin)).toThrow(binaryUnsupported);
    expect(() =>
      v1.encodeMessage({ joinRef: null, ref: null, topic: "t", event: "e", payload: bin }),
    ).toThrow(binaryUnsupported);
  });
});

describe("V1 decode errors are values", () => {
  const malformed: [string, string][] = [
    ["invalid JSON", '{"topic":'],
    ["an array (V2 shape)", '["1","1","t","e",{}]'],
    ["a string", '"x"'],
    ["null", "null"],
    ["missing ref", '{"topic":"t","event":"e","payload":{}}'],
    ["missing payload", '{"topic":"t","event":"e","ref":"1"}'],
    ["missing topic", '{"event":"e","payload":{},"ref":"1"}'],
    ["missing event", '{"topic":"t","payload":{},"ref":"1"}'],
    ["topic is a number", '{"topic":1,"event":"e","payload":{},"ref":"1"}'],
    ["event is empty", '{"topic":"t","event":"","payload":{},"ref":"1"}'],
    ["ref is an object", '{"topic":"t","event":"e","payload":{},"ref":{}}'],
    ["join_ref is a boolean", '{"topic":"t","event":"e","payload":{},"ref":"1","join_ref":false}'],
    ["fields only inherited via __proto__", '{"__proto__":{"topic":"t","event":"e","payload":{},"ref":"1"}}'],
  ];
  it.each(malformed)("%s → malformed", (_name, text) => {
    expect(v1.decode(text, false)).toMatchObject({ ok: false, error: "malformed" });
  });

  it("invalid UTF-8 → invalid_utf8", () => {
    expect(v1.decode(Uint8Array.of(0x7b, 0xff, 0x7d), false)).toMatchObject({
      ok: false,
      error: "invalid_utf8",
    });
  });

  it("any binary frame → malformed (V1 has none)", () => {
    const push = frame(0, 2, 1, 8, 12, "11", "2", "room:bin", "binary_event", 1, 2);
    expect(v1.decode(push, true)).toMatchObject({ ok: false, error: "malformed" });
    expect(v1.decode(utf8('{"topic":"t","event":"e","payload":{},"ref":"1"}'), true)).toMatchObject({
      ok: false,
      error: "malformed",
    });
  });
});
