import { v2JsonSerializer } from "@nexus/protocol";
import { describe, expect, it } from "vitest";
import { classify, FrameKind, readStamp, sendFrame, sendFrameParts } from "./bench-frames.js";
import { Histogram } from "./histogram.js";
import {
  acceptKey,
  applyMask,
  checkUpgradeResponse,
  encodeFrame,
  FrameDecoder,
  Opcode,
  ProtocolError,
} from "./phx-client.js";

type Got = { kind: "message" | "control"; opcode: number; data: string };

function decoder() {
  const got: Got[] = [];
  const d = new FrameDecoder({
    message: (opcode, data) => got.push({ kind: "message", opcode, data: data.toString("latin1") }),
    control: (opcode, data) => got.push({ kind: "control", opcode, data: data.toString("latin1") }),
  });
  return { d, got };
}

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");

describe("RFC 6455 framing", () => {
  // The examples of RFC 6455 §5.7, byte for byte.
  it("encodes an unmasked text frame", () => {
    expect(hex(encodeFrame(Opcode.Text, "Hello", null))).toBe("810548656c6c6f");
  });

  it("encodes a masked text frame with the given key", () => {
    const key = Buffer.from("37fa213d", "hex");
    expect(hex(encodeFrame(Opcode.Text, "Hello", key))).toBe("818537fa213d7f9f4d5158");
  });

  it("masks with a fresh key by default and unmasking restores the payload", () => {
    const a = encodeFrame(Opcode.Text, "Hello");
    const b = encodeFrame(Opcode.Text, "Hello");
    expect(a[1]! & 0x80).toBe(0x80);
    expect(hex(a.subarray(2, 6))).not.toBe(hex(b.subarray(2, 6)));
    const body = Buffer.from(a.subarray(6));
    applyMask(body, a.subarray(2, 6));
    expect(body.toString()).toBe("Hello");
  });

  it("applyMask is its own inverse for any length and alignment", () => {
    const key = Buffer.from([1, 2, 3, 4]);
    for (const n of [0, 1, 3, 4, 5, 7, 8, 1023]) {
      const data = Buffer.from(Array.from({ length: n }, (_, i) => (i * 31) & 0xff));
      const copy = Buffer.from(data);
      applyMask(copy, key);
      if (n > 0) expect(copy.equals(data)).toBe(false);
      applyMask(copy, key);
      expect(copy.equals(data)).toBe(true);
    }
  });

  it("uses 7-bit lengths up to 125, 16-bit up to 65535, 64-bit above", () => {
    const header = (n: number) => encodeFrame(Opcode.Binary, Buffer.alloc(n), null).subarray(0, 10);
    expect(header(125)[1]).toBe(125);
    expect(header(126)[1]).toBe(126);
    expect(header(126).readUInt16BE(2)).toBe(126);
    // RFC 6455 §5.7: 256 bytes of binary data in a single unmasked message.
    expect(hex(header(256).subarray(0, 4))).toBe("827e0100");
    expect(header(65535)[1]).toBe(126);
    expect(header(65535).readUInt16BE(2)).toBe(65535);
    // RFC 6455 §5.7: 64 KiB in a single unmasked message.
    expect(hex(header(65536))).toBe("827f0000000000010000");
    const masked = encodeFrame(Opcode.Binary, Buffer.alloc(70_000), Buffer.from([9, 9, 9, 9]));
    expect(masked[1]).toBe(0x80 | 127);
    expect(masked.length).toBe(2 + 8 + 4 + 70_000);
  });

  it("decodes frames split at every byte boundary", () => {
    const wire = Buffer.concat([
      encodeFrame(Opcode.Text, "first", null),
      encodeFrame(Opcode.Text, "x".repeat(300), null),
      encodeFrame(Opcode.Binary, Buffer.alloc(70_000, 7), null),
    ]);
    const { d, got } = decoder();
    for (let i = 0; i < wire.length; i++) d.push(wire.subarray(i, i + 1));
    expect(got.map((g) => [g.opcode, g.data.length])).toEqual([
      [Opcode.Text, 5],
      [Opcode.Text, 300],
      [Opcode.Binary, 70_000],
    ]);
    expect(got[0]!.data).toBe("first");
  });

  it("decodes many frames in one chunk and a large frame over uneven chunks", () => {
    const big = Buffer.alloc(200_000);
    for (let i = 0; i < big.length; i++) big[i] = i % 251;
    const wire = Buffer.concat([
      ...Array.from({ length: 50 }, (_, i) => encodeFrame(Opcode.Text, `m${i}`, null)),
      encodeFrame(Opcode.Binary, big, null),
    ]);
    const { d, got } = decoder();
    let at = 0;
    for (const size of [3, 1000, 7, 65_536, 1, 99_999]) {
      d.push(wire.subarray(at, at + size));
      at += size;
    }
    d.push(wire.subarray(at));
    expect(got.length).toBe(51);
    expect(got[49]!.data).toBe("m49");
    expect(Buffer.from(got[50]!.data, "latin1").equals(big)).toBe(true);
  });

  it("decodes masked frames (what a client sends) back to the payload", () => {
    const { d, got } = decoder();
    d.push(encodeFrame(Opcode.Text, "y".repeat(1000)));
    expect(got[0]!.data).toBe("y".repeat(1000));
  });

  it("joins fragments, delivering control frames that arrive between them at once", () => {
    // RFC 6455 §5.7: a fragmented unmasked text message, "Hel" then "lo", with a ping between.
    const wire = Buffer.concat([
      Buffer.from("010348656c", "hex"),
      encodeFrame(Opcode.Ping, "are you there", null),
      Buffer.from("80026c6f", "hex"),
    ]);
    const { d, got } = decoder();
    d.push(wire);
    expect(got).toEqual([
      { kind: "control", opcode: Opcode.Ping, data: "are you there" },
      { kind: "message", opcode: Opcode.Text, data: "Hello" },
    ]);
  });

  it("joins a large fragmented message", () => {
    const parts = [Buffer.alloc(70_000, 1), Buffer.alloc(300, 2), Buffer.alloc(5, 3)];
    const wire = Buffer.concat([
      encodeFrame(Opcode.Binary, parts[0]!, null, false),
      encodeFrame(Opcode.Continuation, parts[1]!, null, false),
      encodeFrame(Opcode.Continuation, parts[2]!, null, true),
    ]);
    const { d, got } = decoder();
    d.push(wire.subarray(0, 40_000));
    d.push(wire.subarray(40_000));
    expect(got.length).toBe(1);
    expect(Buffer.from(got[0]!.data, "latin1").equals(Buffer.concat(parts))).toBe(true);
  });

  it("refuses what a server must never send", () => {
    const bad = (wire: Buffer) => () => decoder().d.push(wire);
    expect(bad(Buffer.from("800161", "hex"))).toThrow(ProtocolError); // continuation first
    expect(bad(Buffer.from("c10161", "hex"))).toThrow(/reserved/); // RSV1 without extension
    expect(bad(Buffer.from("097e0080", "hex"))).toThrow(/control/); // ping not FIN / 128 bytes
    expect(bad(Buffer.from("010161010162", "hex"))).toThrow(/fragmented/); // new message mid-fragment
    expect(bad(Buffer.from("827f8000000000000000", "hex"))).toThrow(/64-bit/);
  });
});

describe("upgrade handshake", () => {
  it("computes Sec-WebSocket-Accept as RFC 6455 §1.3 shows", () => {
    expect(acceptKey("dGhlIHNhbXBsZSBub25jZQ==")).toBe("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
  });

  it("accepts a 101 with the right accept value and refuses anything else", () => {
    const ok = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nSec-WebSocket-Accept: abc=";
    expect(() => checkUpgradeResponse(ok, "abc=")).not.toThrow();
    expect(() => checkUpgradeResponse(ok, "xyz=")).toThrow(/Accept/);
    expect(() => checkUpgradeResponse("HTTP/1.1 403 Forbidden\r\n", "abc=")).toThrow(/403/);
  });
});

describe("bench frames against the gateway's serializer", () => {
  const topic = "chat:7d1f8f4c-2a5e-4a57-9a0c-2f1b1f5f0b11";

  it("a send frame is the V2 array phoenix.js would send", () => {
    const frame = sendFrame(sendFrameParts("3", topic), "17", 4, 123456789);
    expect(JSON.parse(frame)).toEqual(["3", "17", topic, "new_msg", { body: "t:4:123456789" }]);
  });

  it("reads step and send time from a broadcast encoded by v2JsonSerializer", () => {
    const payload = {
      id: "00000000-0000-4000-8000-000000000001",
      content: { text: "t:12:9876543210" },
      sender_id: "00000000-0000-4000-8000-000000000002",
      inserted_at: "2026-01-01T00:00:00.000000Z",
      seq: 5,
    };
    for (const frame of [
      v2JsonSerializer.encodeBroadcast(topic, "new_msg", payload),
      v2JsonSerializer.encodeBroadcastJson(topic, "new_msg", JSON.stringify(payload)),
    ]) {
      expect(frame.binary).toBe(false);
      const bytes = Buffer.from(frame.data as string);
      expect(classify(bytes)).toBe(FrameKind.Broadcast);
      expect(readStamp(bytes)).toEqual({ step: 12, sentUs: 9876543210 });
    }
  });

  it("classifies replies and ignores foreign broadcasts", () => {
    const enc = (f: { data: string | Uint8Array }) => Buffer.from(f.data as string);
    expect(classify(enc(v2JsonSerializer.encodeReply(null, "9", "phoenix", "ok", {})))).toBe(
      FrameKind.HeartbeatOk,
    );
    expect(classify(enc(v2JsonSerializer.encodeReply("3", "9", topic, "ok", { id: "x", seq: 1 })))).toBe(
      FrameKind.ReplyOk,
    );
    expect(
      classify(enc(v2JsonSerializer.encodeReply("3", "9", topic, "error", { reason: "Failed to save" }))),
    ).toBe(FrameKind.Error);
    expect(classify(enc(v2JsonSerializer.encodePush("3", topic, "presence_state", {})))).toBe(FrameKind.Push);
    const other = enc(v2JsonSerializer.encodeBroadcast(topic, "new_msg", { content: { text: "hello" } }));
    expect(classify(other)).toBe(FrameKind.Broadcast);
    expect(readStamp(other)).toBeNull();
  });
});

describe("latency histogram", () => {
  it("percentiles are within 2% and histograms merge", () => {
    const a = new Histogram();
    const b = new Histogram();
    for (let v = 1; v <= 10_000; v++) (v % 2 ? a : b).record(v);
    a.merge(Histogram.from(b.toJSON()));
    expect(a.count).toBe(10_000);
    expect(a.max).toBe(10_000);
    for (const [p, exact] of [
      [50, 5_000],
      [99, 9_900],
    ] as const) {
      const got = a.percentile(p);
      expect(got).toBeGreaterThanOrEqual(exact);
      expect(got).toBeLessThanOrEqual(exact * 1.02);
    }
    expect(Number.isNaN(new Histogram().percentile(50))).toBe(true);
  });
});
