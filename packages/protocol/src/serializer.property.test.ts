/** @module Tests: Property tests: round trips on V1, V2 text and V2 binary; decode never throws; JSON fast path. */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { decodeServerFrame, encodeClientMessage } from "./client-codec.js";
import type { Message, Ref } from "./message.js";
import type { Serializer } from "./serializer.js";
import { v1JsonSerializer as v1 } from "./v1-json.js";
import { v2JsonSerializer as v2 } from "./v2-json.js";

const encoder = new TextEncoder();
const byteLength = (s: string) => encoder.encode(s).length;

/** Any UTF-16 code units, lone surrogates included: JSON text must carry them all. */
const anyString = fc.string({ unit: fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)) });
const unicode = fc.string({ unit: "binary" });
const name = fc
  .oneof(unicode, anyString, fc.constantFrom("phoenix", "room:lobby", "phx_join"))
  .filter((s) => s.length > 0);
// -0 is the one double JSON cannot carry (it comes back as 0).
const number = fc
  .oneof(fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true }))
  .filter((n) => !Object.is(n, -0));
const textRef: fc.Arbitrary<Ref> = fc.oneof(fc.constant(null), anyString, number);
const jsonObject = fc
  .dictionary(fc.string(), fc.jsonValue())
  .map((o) => JSON.parse(JSON.stringify(o)) as object);

/** Header fields for binary frames: UTF-8 (no lone surrogates), at most 255 bytes. */
const headerName = fc
  .string({ unit: "binary", minLength: 1, maxLength: 255 })
  .filter((s) => byteLength(s) <= 255);
const binaryRef: fc.Arbitrary<Ref> = fc.oneof(fc.constant(null), headerName);
const bytes = fc.uint8Array({ maxLength: 64 });

const textMessage = fc.record({
  joinRef: textRef,
  ref: textRef,
  topic: name,
  event: name,
  payload: jsonObject,
});

function decoded(s: Serializer, data: string | Uint8Array, binary: boolean): Message {
  const r = s.decode(data, binary);
  if (!r.ok) throw new Error(`${r.error}: ${r.detail}`);
  return r.message;
}

describe("round trips", () => {
  it("V2 text: decode(encodeMessage(m)) = m, from a string and from UTF-8 bytes", () => {
    fc.assert(
      fc.property(textMessage, (m) => {
        const f = v2.encodeMessage(m);
        expect(f.binary).toBe(false);
        expect(decoded(v2, f.data, false)).toEqual(m);
        expect(decoded(v2, encoder.encode(f.data as string), false)).toEqual(m);
        expect(decodeServerFrame(f.data, false)).toEqual(m);
      }),
    );
  });

  it("V1: decode(encodeMessage(m)) = m without join_ref", () => {
    fc.assert(
      fc.property(textMessage, (m) => {
        const f = v1.encodeMessage(m);
        expect(decoded(v1, encoder.encode(f.data as string), false)).toEqual({ ...m, joinRef: null });
      }),
    );
  });

  it("V2 text from the client codec decodes to the same message", () => {
    fc.assert(
      fc.property(textMessage, (m) => {
        expect(decoded(v2, encodeClientMessage(m).data, false)).toEqual(m);
      }),
    );
  });

  it("V2 binary client push → server decode", () => {
    const msg = fc.record({
      joinRef: binaryRef,
      ref: binaryRef,
      topic: headerName,
      event: headerName,
      payload: bytes,
    });
    fc.assert(
      fc.property(msg, (m) => {
        const f = encodeClientMessage(m);
        expect(f.binary).toBe(true);
        expect(decoded(v2, f.data, true)).toEqual(m);
      }),
    );
  });

  it("V2 binary push, reply and broadcast → client decode", () => {
    fc.assert(
      fc.property(binaryRef, binaryRef, headerName, headerName, bytes, (joinRef, ref, topic, event, data) => {
        expect(decodeServerFrame(v2.encodePush(joinRef, topic, event, data).data, true)).toEqual({
          joinRef,
          ref: null,
          topic,
          event,
          payload: data,
        });
        expect(decodeServerFrame(v2.encodeReply(joinRef, ref, topic, event, data).data, true)).toEqual({
          joinRef,
          ref,
          topic,
          event: "phx_reply",
          payload: { status: event, response: data },
        });
        expect(decodeServerFrame(v2.encodeBroadcast(topic, event, data).data, true)).toEqual({
          joinRef: null,
          ref: null,
          topic,
          event,
          payload: data,
        });
      }),
    );
  });

  it("V2 text reply → client decode", () => {
    fc.assert(
      fc.property(textRef, textRef, name, name, fc.jsonValue(), (joinRef, ref, topic, status, response) => {
        const normal = JSON.parse(JSON.stringify(response)) as unknown;
        expect(decodeServerFrame(v2.encodeReply(joinRef, ref, topic, status, normal).data, false)).toEqual({
          joinRef,
          ref,
          topic,
          event: "phx_reply",
          payload: { status, response: normal },
        });
      }),
    );
  });
});

describe("encodeBroadcastJson(t, e, JSON.stringify(p)) equals encodeBroadcast(t, e, p)", () => {
  it.each([
    ["V1", v1],
    ["V2", v2],
  ] as const)("%s", (_n, s) => {
    fc.assert(
      fc.property(name, name, fc.dictionary(fc.string(), fc.jsonValue()), (t, e, p) => {
        expect(s.encodeBroadcastJson(t, e, JSON.stringify(p))).toEqual(s.encodeBroadcast(t, e, p));
      }),
    );
  });
});

describe("decode never throws", () => {
  const serializers = [v1, v2];
  const check = (data: string | Uint8Array, binary: boolean) => {
    for (const s of serializers) {
      const r = s.decode(data, binary);
      expect(typeof r.ok).toBe("boolean");
      if (!r.ok) expect(["invalid_utf8", "malformed"]).toContain(r.error);
    }
  };

  it("on arbitrary bytes, as text or binary, as Uint8Array or ArrayBuffer", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), fc.boolean(), (b, binary) => {
        check(b, binary);
        for (const s of serializers) expect(s.decode(b.slice().buffer, binary)).toEqual(s.decode(b, binary));
      }),
      { numRuns: 2000 },
    );
  });

  it("on binary frames with a plausible header", () => {
    const header = fc.tuple(
      fc.integer({ min: 0, max: 3 }),
      fc.array(fc.nat(40), { minLength: 4, maxLength: 4 }),
    );
    fc.assert(
      fc.property(header, fc.uint8Array({ maxLength: 120 }), ([kind, lengths], rest) => {
        check(Uint8Array.from([kind, ...lengths, ...rest]), true);
      }),
      { numRuns: 2000 },
    );
  });

  it("on arbitrary strings", () => {
    fc.assert(
      fc.property(fc.oneof(anyString, fc.string()), fc.boolean(), (s, binary) => check(s, binary)),
      { numRuns: 2000 },
    );
  });

  it("on arbitrary JSON, and 5-element arrays or V1-shaped objects of arbitrary JSON", () => {
    const value = fc.jsonValue({ maxDepth: 2 });
    const shaped = fc.oneof(
      value,
      fc.array(value, { minLength: 5, maxLength: 6 }),
      fc.record({ topic: value, event: value, payload: value, ref: value }, { requiredKeys: [] }),
    );
    fc.assert(
      fc.property(shaped, (v) => {
        const text = JSON.stringify(v);
        check(text, false);
        check(encoder.encode(text), false);
      }),
      { numRuns: 2000 },
    );
  });
});
