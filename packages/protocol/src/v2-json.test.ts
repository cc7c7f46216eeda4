/** @module Tests: V2 text frames: the exact frames of PROTOCOL.md §8 and decode/encode errors. */
import { describe, expect, it } from "vitest";
import type { DecodeResult } from "./serializer.js";
import { EncodeError } from "./serializer.js";
import { utf8 } from "./test-bytes.js";
import { v2JsonSerializer as v2 } from "./v2-json.js";

function ok(r: DecodeResult) {
  if (!r.ok) throw new Error(`expected ok, got ${r.error}: ${r.detail}`);
  return r.message;
}

describe("V2 text frames of PROTOCOL.md §8", () => {
  it("8: heartbeat and its reply", () => {
    expect(ok(v2.decode('[null,"1","phoenix","heartbeat",{}]', false))).toEqual({
      joinRef: null,
      ref: "1",
      topic: "phoenix",
      event: "heartbeat",
      payload: {},
    });
    expect(v2.encodeReply(null, "1", "phoenix", "ok", {})).toEqual({
      data: '[null,"1","phoenix","phx_reply",{"status":"ok","response":{}}]',
      binary: false,
    });
  });

  it("10: join, its reply, a push and a broadcast", () => {
    expect(ok(v2.decode('["11","1","room:lobby","phx_join",{}]', false))).toEqual({
      joinRef: "11",
      ref: "1",
      topic: "room:lobby",
      event: "phx_join",
      payload: {},
    });
    expect(v2.encodeReply("11", "1", "room:lobby", "ok", {}).data).toBe(
      '["11","1","room:lobby","phx_reply",{"status":"ok","response":{}}]',
    );
    expect(v2.encodePush("11", "room:lobby", "joined", { status: "connected", user_id: null }).data).toBe(
      '["11",null,"room:lobby","joined",{"status":"connected","user_id":null}]',
    );
    expect(v2.encodeBroadcast("room:lobby", "user_entered", { user: null }).data).toBe(
      '[null,null,"room:lobby","user_entered",{"user":null}]',
    );
    expect(v2.encodeBroadcastJson("room:lobby", "user_entered", '{"user":null}').data).toBe(
      '[null,null,"room:lobby","user_entered",{"user":null}]',
    );
  });

  it("11: unmatched topic reply has join_ref null", () => {
    expect(v2.encodeReply(null, "1", "unmatched-topic", "error", { reason: "unmatched topic" }).data).toBe(
      '[null,"1","unmatched-topic","phx_reply",{"status":"error","response":{"reason":"unmatched topic"}}]',
    );
  });

  it("15 and 25: phx_close carries ref = join_ref; 28: phx_error", () => {
    const close = { joinRef: "11", ref: "11", topic: "room:lobby", event: "phx_close", payload: {} };
    expect(v2.encodeMessage(close)).toEqual({
      data: '["11","11","room:lobby","phx_close",{}]',
      binary: false,
    });
    expect(v2.encodeReply("11", "3", "room:lobby", "ok", {}).data).toBe(
      '["11","3","room:lobby","phx_reply",{"status":"ok","response":{}}]',
    );
    const error = { ...close, event: "phx_error", payload: { reason: "channel_crash" } };
    expect(v2.encodeMessage(error).data).toBe(
      '["11","11","room:lobby","phx_error",{"reason":"channel_crash"}]',
    );
  });

  it("decodes text from an ArrayBuffer or a Uint8Array view at an offset, as uWS and LongPoll give it", () => {
    const text = '["11","2","room:lobby","new_msg",{"body":"hi! ✓"}]';
    const expected = ok(v2.decode(text, false));
    expect(expected.payload).toEqual({ body: "hi! ✓" });
    const bytes = utf8(text);
    expect(ok(v2.decode(bytes.slice().buffer, false))).toEqual(expected);
    const padded = new Uint8Array(bytes.length + 7);
    padded.set(bytes, 3);
    expect(ok(v2.decode(padded.subarray(3, 3 + bytes.length), false))).toEqual(expected);
  });

  it("ignores elements past the fifth, as Phoenix's `| _` pattern does", () => {
    expect(ok(v2.decode('["1","2","t","e",{},"extra",7]', false)).event).toBe("e");
  });

  it("keeps a numeric ref a number and echoes it unchanged", () => {
    const m = ok(v2.decode('[12,7,"phoenix","heartbeat",{}]', false));
    expect(m.ref).toBe(7);
    expect(m.joinRef).toBe(12);
    expect(v2.encodeReply(m.joinRef, m.ref, m.topic, "ok", {}).data).toBe(
      '[12,7,"phoenix","phx_reply",{"status":"ok","response":{}}]',
    );
  });

  it("accepts any JSON payload from the client (routing decides what it means)", () => {
    expect(ok(v2.decode('[null,"1","t","e",[1,2]]', false)).payload).toEqual([1, 2]);
    expect(ok(v2.decode('[null,"1","t","e",null]', false)).payload).toBeNull();
  });
});

describe("V2 decode errors are values", () => {
  const malformed: [string, string][] = [
    ["invalid JSON", '["1","1","t","e",{}'],
    ["empty frame", ""],
    ["JSON object instead of array", '{"topic":"t","event":"e","payload":{},"ref":"1"}'],
    ["JSON string", '"hello"'],
    ["JSON number", "42"],
    ["JSON null", "null"],
    ["empty array", "[]"],
    ["4 elements", '["1","1","t","e"]'],
    ["topic is a number", '["1","1",5,"e",{}]'],
    ["topic is null", '["1","1",null,"e",{}]'],
    ["topic is empty", '["1","1","","e",{}]'],
    ["event is null", '["1","1","t",null,{}]'],
    ["event is an object", '["1","1","t",{},{}]'],
    ["ref is an object", '["1",{},"t","e",{}]'],
    ["ref is a boolean", '["1",true,"t","e",{}]'],
    ["join_ref is an array", '[["1"],"1","t","e",{}]'],
    ["ref overflows to Infinity", '["1",1e400,"t","e",{}]'],
    ["byte order mark before the JSON", '\uFEFF["1","1","t","e",{}]'],
  ];
  it.each(malformed)("%s → malformed", (_name, text) => {
    const r = v2.decode(text, false);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error).toBe("malformed");
    expect(v2.decode(utf8(text), false)).toEqual(r);
  });

  const invalidUtf8: [string, number[]][] = [
    ["0xff byte", [0x5b, 0xff, 0x5d]],
    ["overlong encoding of '/'", [0x22, 0xc0, 0xaf, 0x22]],
    ["UTF-8 encoded surrogate", [0x22, 0xed, 0xa0, 0x80, 0x22]],
    ["truncated 3-byte sequence", [0x22, 0xe2, 0x82]],
    ["stray continuation byte", [0x80]],
  ];
  it.each(invalidUtf8)("%s in a text frame → invalid_utf8", (_name, bytes) => {
    const r = v2.decode(Uint8Array.from(bytes), false);
    expect(r).toMatchObject({ ok: false, error: "invalid_utf8" });
    expect(v2.decode(Uint8Array.from(bytes).buffer, false)).toEqual(r);
  });
});

describe("V2 encode errors", () => {
  it("refuses push and broadcast payloads that are not objects", () => {
    for (const p of [[1], "x", 3, null, true]) {
      expect(() => v2.encodePush("1", "t", "e", p)).toThrow(EncodeError);
      expect(() => v2.encodeBroadcast("t", "e", p)).toThrow(EncodeError);
      expect(() => v2.encodeBroadcastJson("t", "e", JSON.stringify(p))).toThrow(EncodeError);
    }
    expect(() => v2.encodeBroadcast("t", "e", [])).toThrow(
      expect.objectContaining({ kind: "not_an_object" }),
    );
  });

  it("allows any JSON reply response, but not an unserializable one", () => {
    expect(v2.encodeReply("1", "2", "t", "ok", [1]).data).toBe(
      '["1","2","t","phx_reply",{"status":"ok","response":[1]}]',
    );
    expect(() => v2.encodeReply("1", "2", "t", "ok", undefined)).toThrow(
      expect.objectContaining({ kind: "not_serializable" }),
    );
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(() => v2.encodePush("1", "t", "e", cyclic)).toThrow(
      expect.objectContaining({ kind: "not_serializable" }),
    );
    expect(() => v2.encodePush("1", "t", "e", { n: 1n })).toThrow(
      expect.objectContaining({ kind: "not_serializable" }),
    );
  });

  it("tolerates leading whitespace in pre-serialized payloads", () => {
    expect(v2.encodeBroadcastJson("t", "e", ' \n{"a":1}').data).toBe('[null,null,"t","e", \n{"a":1}]');
  });
});
