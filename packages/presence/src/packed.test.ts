import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { pack, refOf, refPrefix, slotOf, unpack } from "./packed.js";
import { createState, join, list, mergeSnapshot } from "./state.js";
import type { RenderedMeta } from "./types.js";

const prefix = refPrefix({ node: "n1", vsn: 7 });

describe("packed remote entries", () => {
  it("a ref made by the writer is kept as its counter; others as themselves", () => {
    expect(slotOf(prefix, `${prefix}1`)).toBe(1);
    expect(slotOf(prefix, `${prefix}zz`)).toBe(36 * 36 - 1);
    // Not canonical base 36, another writer's, bare prefix, too large: kept as strings.
    for (const ref of [
      `${prefix}01`,
      `${prefix}A`,
      `${prefix}1.5`,
      "other-ref",
      prefix,
      `${prefix}zzzzzzzz`,
    ]) {
      expect(slotOf(prefix, ref)).toBe(ref);
    }
  });

  it("slot and ref round-trip for any ref", () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string(),
          fc.nat().map((n) => prefix + n.toString(36)),
        ),
        (ref) => {
          expect(refOf(prefix, slotOf(prefix, ref))).toBe(ref);
        },
      ),
    );
  });

  it("unpack gives back the key and the meta as rendered, phx_ref_prev after phx_ref", () => {
    const meta: RenderedMeta = { online_at: "2026-01-11T20:05:50.055142Z", phx_ref: `${prefix}5` };
    const slot = slotOf(prefix, meta.phx_ref);
    const packed = pack("u1", meta);
    expect(packed).not.toContain(meta.phx_ref);
    expect(unpack(prefix, slot, packed)).toEqual({ key: "u1", meta });

    const updated = { status: "away", phx_ref: `${prefix}9`, phx_ref_prev: `${prefix}5` };
    const back = unpack(prefix, slotOf(prefix, updated.phx_ref), pack("u1", updated));
    expect(JSON.stringify(back.meta)).toBe(JSON.stringify(updated));
  });

  it("any JSON meta and key survive, `__proto__` and nested phx_ref included", () => {
    fc.assert(
      fc.property(fc.string(), fc.dictionary(fc.string(), fc.jsonValue()), fc.nat(), (key, fields, n) => {
        const meta = JSON.parse(
          JSON.stringify({ ...fields, nested: { phx_ref: "inner" }, phx_ref: prefix + n.toString(36) }),
        ) as RenderedMeta;
        const e = unpack(prefix, slotOf(prefix, meta.phx_ref), pack(key, meta));
        expect(e.key).toBe(key);
        expect(e.meta).toEqual(meta);
      }),
    );
    const evil = JSON.parse('{"__proto__":{"x":1},"phx_ref":"r"}') as RenderedMeta;
    const e = unpack(prefix, "r", pack("k", evil));
    expect(Object.hasOwn(e.meta, "__proto__")).toBe(true);
    expect(Object.getPrototypeOf(e.meta)).toBe(Object.prototype);
  });

  it("a replica's entries list and leave the same whether its refs are its own or foreign", () => {
    const writer = createState({ node: "w", vsn: 1 });
    join(writer, "t", "alice", "c1", { online_at: "x" });
    const own = writer.local.get("t")!.byOwner.get("c1") as { meta: RenderedMeta };
    const rx = createState({ node: "r", vsn: 1 });
    const entries: Array<[string, RenderedMeta]> = [
      ["alice", own.meta],
      ["bob", { online_at: "y", phx_ref: "foreign-ref" }],
    ];
    mergeSnapshot(rx, { kind: "snapshot", node: "w", vsn: 1, topic: "t", version: 1, entries });
    expect(list(rx, "t")).toEqual({ alice: { metas: [own.meta] }, bob: { metas: [entries[1]![1]] } });
    const { diffs } = mergeSnapshot(rx, {
      kind: "snapshot",
      node: "w",
      vsn: 1,
      topic: "t",
      version: 2,
      entries: [],
    });
    expect(diffs.get("t")).toEqual({
      joins: {},
      leaves: { alice: { metas: [own.meta] }, bob: { metas: [entries[1]![1]] } },
    });
  });
});
