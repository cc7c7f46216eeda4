/** @module Tests: V2 binary frames: PROTOCOL.md §8 tests 22, 23, 35 byte for byte, header limits, decode errors. */
import { describe, expect, it } from "vitest";
import { decodeServerFrame, encodeClientMessage } from "./client-codec.js";
import type { DecodeResult } from "./serializer.js";
import { frame } from "./test-bytes.js";
import { v2JsonSerializer as v2 } from "./v2-json.js";

function ok(r: DecodeResult) {
  if (!r.ok) throw new Error(`expected ok, got ${r.error}: ${r.detail}`);
  return r.message;
}

describe("V2 binary frames of PROTOCOL.md", () => {
  it("22: decodes the client's binary push", () => {
    const push = frame(0x00, 0x02, 0x01, 0x08, 0x0c, "11", "2", "room:bin", "binary_event", 0x01, 0x02);
    expect(ok(v2.decode(push, true))).toEqual({
      joinRef: "11",
      ref: "2",
      topic: "room:bin",
      event: "binary_event",
      payload: Uint8Array.of(1, 2),
    });
    expect(ok(v2.decode(push.buffer, true)).payload).toEqual(Uint8Array.of(1, 2));
  });

  it("22: encodes the binary reply and the binary push byte for byte", () => {
    expect(v2.encodeReply("11", "2", "room:bin", "ok", Uint8Array.of(1, 2, 3, 4))).toEqual({
      data: frame(0x01, 0x02, 0x01, 0x08, 0x02, "11", "2", "room:bin", "ok", 0x01, 0x02, 0x03, 0x04),
      binary: true,
    });
    expect(v2.encodePush("11", "room:bin", "binary_event", Uint8Array.of(0, 1))).toEqual({
      data: frame(0x00, 0x02, 0x08, 0x0c, "11", "room:bin", "binary_event", 0x00, 0x01),
      binary: true,
    });
  });

  it("23: encodes a binary broadcast as 02 05 05 topic event data", () => {
    const data = Uint8Array.of(9, 8, 7);
    expect(v2.encodeBroadcast("topic", "event", data)).toEqual({
      data: frame(0x02, 0x05, 0x05, "topic", "event", 9, 8, 7),
      binary: true,
    });
  });

  it("§2: the phoenix.js example push 00 01 01 0a 03 '3' '5' 'room:lobby' 'bin' 01 02 03", () => {
    const push = frame(0x00, 0x01, 0x01, 0x0a, 0x03, "3", "5", "room:lobby", "bin", 1, 2, 3);
    const m = { joinRef: "3", ref: "5", topic: "room:lobby", event: "bin", payload: Uint8Array.of(1, 2, 3) };
    expect(ok(v2.decode(push, true))).toEqual(m);
    expect(encodeClientMessage(m)).toEqual({ data: push, binary: true });
  });

  it("35: decodes the LongPoll base64 line", () => {
    const bytes = new Uint8Array(Buffer.from("AAEBCgMxNHJvb206bG9iYnliaW4BAgM=", "base64"));
    expect(ok(v2.decode(bytes, true))).toEqual({
      joinRef: "1",
      ref: "4",
      topic: "room:lobby",
      event: "bin",
      payload: Uint8Array.of(1, 2, 3),
    });
  });

  it("reads empty ref fields as null and writes null refs as empty fields", () => {
    const m = ok(v2.decode(frame(0, 0, 0, 1, 1, "t", "e", 5), true));
    expect(m).toMatchObject({ joinRef: null, ref: null, topic: "t", event: "e" });
    expect(v2.encodeReply(null, null, "t", "ok", Uint8Array.of()).data).toEqual(
      frame(1, 0, 0, 1, 2, "t", "ok"),
    );
  });

  it("writes a numeric ref as its decimal string", () => {
    expect(v2.encodeReply(12, 7, "t", "ok", Uint8Array.of(1)).data).toEqual(
      frame(1, 2, 1, 1, 2, "12", "7", "t", "ok", 1),
    );
  });

  it("copies the payload so the caller may reuse the frame buffer", () => {
    const push = frame(0, 1, 1, 1, 1, "1", "2", "t", "e", 7, 7);
    const m = ok(v2.decode(push, true));
    push.fill(0);
    expect(m.payload).toEqual(Uint8Array.of(7, 7));
  });

  it("encodes phx_close/phx_error-style messages with a binary payload as kind-0 pushes (no ref)", () => {
    const m = { joinRef: "1", ref: "1", topic: "t", event: "e", payload: Uint8Array.of(3) };
    expect(v2.encodeMessage(m).data).toEqual(frame(0, 1, 1, 1, "1", "t", "e", 3));
  });

  it("sends UTF-8 header fields and the client reads them back", () => {
    const f = v2.encodeBroadcast("room:café", "ünïcode✓", Uint8Array.of(1));
    expect(f.data).toEqual(frame(2, 10, 12, "room:café", "ünïcode✓", 1));
    expect(decodeServerFrame(f.data, true)).toMatchObject({ topic: "room:café", event: "ünïcode✓" });
  });

  it("writes a lone surrogate in a header as U+FFFD, as TextEncoder does", () => {
    expect(v2.encodeBroadcast("t\ud800", "e", Uint8Array.of(9)).data).toEqual(
      frame(2, 4, 1, "t", 0xef, 0xbf, 0xbd, "e", 9),
    );
  });

  it("limits each header field to 255 bytes of UTF-8", () => {
    const bin = Uint8Array.of(1);
    const ascii255 = "a".repeat(255);
    const euro85 = "€".repeat(85); // 255 bytes
    expect(v2.encodeBroadcast(ascii255, euro85, bin).data.length).toBe(3 + 255 + 255 + 1);
    const tooLong = expect.objectContaining({ name: "EncodeError", kind: "header_too_long" });
    expect(() => v2.encodeBroadcast("a".repeat(256), "e", bin)).toThrow(tooLong);
    expect(() => v2.encodeBroadcast("t", "é".repeat(128), bin)).toThrow(tooLong); // 256 bytes
    expect(() => v2.encodePush("r".repeat(256), "t", "e", bin)).toThrow(tooLong);
    expect(() => v2.encodeReply("1", "1", "t", "s".repeat(300), bin)).toThrow(tooLong);
    // Text frames have no such limit.
    expect(v2.encodeBroadcast("a".repeat(256), "e", {}).binary).toBe(false);
  });
});

describe("V2 binary decode errors are values", () => {
  const malformed: [string, Uint8Array][] = [
    ["empty frame", frame()],
    ["shorter than the 5-byte header", frame(0, 0, 0, 1)],
    ["kind 1 (reply) from a client", frame(1, 2, 1, 8, 2, "11", "2", "room:bin", "ok", 1)],
    ["kind 2 (broadcast) from a client", frame(2, 5, 5, "topic", "event", 1)],
    ["kind 255", frame(255, 0, 0, 1, 1, "t", "e")],
    ["header lengths longer than the frame", frame(0, 2, 1, 8, 12, "11", "2", "room:bin")],
    ["one byte short", frame(0, 0, 0, 1, 2, "t", "e")],
    ["all lengths 255, no body", frame(0, 255, 255, 255, 255)],
    ["empty topic", frame(0, 0, 0, 0, 1, "e")],
    ["empty event", frame(0, 0, 0, 1, 0, "t")],
    ["invalid UTF-8 in the topic", frame(0, 0, 0, 1, 1, 0xff, "e")],
    ["invalid UTF-8 in the ref", frame(0, 0, 2, 1, 1, 0xc0, 0xaf, "t", "e")],
  ];
  it.each(malformed)("%s → malformed", (_name, bytes) => {
    expect(v2.decode(bytes, true)).toMatchObject({ ok: false, error: "malformed" });
  });

  it("a binary frame handed over as a string → malformed", () => {
    expect(v2.decode("\u0000\u0000\u0000\u0001\u0001te", true)).toMatchObject({
      ok: false,
      error: "malformed",
    });
  });
});

describe("client codec (used by tests and the load generator)", () => {
  it("throws on frames it cannot read", () => {
    expect(() => decodeServerFrame(frame(), true)).toThrow();
    expect(() => decodeServerFrame(frame(3), true)).toThrow();
    expect(() => decodeServerFrame(frame(1, 0), true)).toThrow();
    expect(() => decodeServerFrame(frame(2, 5, 5, "top"), true)).toThrow();
    expect(() => decodeServerFrame("[1,2]", false)).toThrow();
  });
});
