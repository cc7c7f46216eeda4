/** @module Wire codec: round trips and everything a stranger could put on the channel. */
import { describe, expect, it } from "vitest";
import type { BusMessage } from "./bus.js";
import { decodeEnvelope, encodeEnvelope, originPrefix } from "./envelope.js";

describe("envelope codec", () => {
  it("carries a broadcast payload verbatim after the header", () => {
    const payload = '{"body":"a\\nb"}';
    const wire = encodeEnvelope("gw-1", { kind: "broadcast", topic: "room:1", event: "new_msg", payload });
    expect(wire).toBe(`1\ngw-1\n{"kind":"broadcast","topic":"room:1","event":"new_msg"}\n${payload}`);
    expect(wire.startsWith(originPrefix("gw-1"))).toBe(true);
  });

  it.each<BusMessage>([
    { kind: "broadcast", topic: "t", event: "e", payload: "" },
    { kind: "broadcast", topic: "t", event: "e", payload: "line\nbreaks\n1\nx\n", exceptConn: "c1" },
    { kind: "broadcast", topic: "t", event: "e", payload: '{"u1":"{}"}', each: true, seq: 3 },
    { kind: "control", topic: "t", action: "a" },
    { kind: "control", topic: "t", action: "a", data: { nested: [1, "two", null, { payload: "x\ny" }] } },
    { kind: "control", topic: "t", action: "a", data: "a plain string" },
  ])("round-trips %j", (msg) => {
    expect(decodeEnvelope(encodeEnvelope("node-a", msg))).toEqual({ ok: true, from: "node-a", msg });
  });

  it("passes kinds it does not know through (owned by the package that added them)", () => {
    const wire = '1\nn\n{"kind":"heartbeat","clock":3}';
    expect(decodeEnvelope(wire)).toEqual({ ok: true, from: "n", msg: { kind: "heartbeat", clock: 3 } });
  });

  it.each([
    ["", "unknown format version"],
    ["hello", "unknown format version"],
    ['2\nn\n{"kind":"control","topic":"t","action":"a"}', "unknown format version"],
    ["1\n", "missing origin"],
    ['1\n\n{"kind":"control"}', "missing origin"],
    ["1\nn", "missing origin"],
    ["1\nn\nnot json", "header is not JSON"],
    ["1\nn\n[1,2]", "header is not an object"],
    ["1\nn\nnull", "header is not an object"],
    ['1\nn\n{"topic":"t"}', "kind is not a string"],
    ['1\nn\n{"kind":"broadcast","topic":"t","event":"e"}', "broadcast needs string topic, event and payload"],
    ['1\nn\n{"kind":"broadcast","topic":"t","event":"e","each":1}\n{}', "each is not true"],
    [
      '1\nn\n{"kind":"broadcast","topic":"t","event":"e","payload":{"a":1}}',
      "broadcast needs string topic, event and payload",
    ],
    ['1\nn\n{"kind":"broadcast","topic":"t","event":"e","exceptConn":7}\n{}', "exceptConn is not a string"],
    ['1\nn\n{"kind":"control","topic":"t"}', "control needs string topic and action"],
  ])("rejects %j as a value: %s", (wire, reason) => {
    expect(decodeEnvelope(wire)).toEqual({ ok: false, reason });
  });
});

describe("broadcast seq", () => {
  it("round-trips and is validated", () => {
    const wire = encodeEnvelope("n1", {
      kind: "broadcast",
      topic: "chat:x",
      event: "new_msg",
      payload: "{}",
      seq: 7,
    });
    expect(decodeEnvelope(wire)).toEqual({
      ok: true,
      from: "n1",
      msg: { kind: "broadcast", topic: "chat:x", event: "new_msg", payload: "{}", seq: 7 },
    });
    const bad = wire.replace('"seq":7', '"seq":-1');
    expect(decodeEnvelope(bad)).toEqual({ ok: false, reason: "seq is not a positive integer" });
  });
});
