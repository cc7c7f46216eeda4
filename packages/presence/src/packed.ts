/**
 * @module
 * How other replicas' entries are kept in memory. A node holds every other node's presences on
 * the topics it watches, so with N nodes most of its presence memory is remote entries, each
 * idle until a join lists it or a leave names it. As objects (a map slot, `{key, meta}`, the
 * meta, and the key, `online_at` and `phx_ref` strings) one costs about 260 bytes of heap; kept
 * as one JSON string under a small-integer ref it costs about half, and is decoded only when a
 * list or a diff needs it.
 *
 * Refs made by `createState` are the writer's prefix (derived from its node id and vsn, so the
 * receiver knows it) plus a base-36 counter: such a ref is stored as the counter, a number the
 * map holds without a string, and left out of the JSON. Any other ref is stored as itself.
 */
import { createHash } from "node:crypto";
import type { Entry } from "./state.js";
import type { RenderedMeta, Replica } from "./types.js";

/** A remote entry's map key: the ref's counter, or the ref itself when it is not one of ours. */
export type Slot = number | string;

/** `JSON.stringify([key, meta without phx_ref])`. */
export type Packed = string;

/** The prefix of every ref the replica makes: unique per boot across the cluster, url-safe. */
export function refPrefix(r: Replica): string {
  return createHash("sha256").update(`${r.node}\n${r.vsn}`).digest("base64url").slice(0, 10);
}

// Counters stay small integers (V8 keeps them unboxed): a larger one is kept as a string.
const MAX_COUNTER = 2 ** 30;

export function slotOf(prefix: string, ref: string): Slot {
  if (!ref.startsWith(prefix)) return ref;
  const digits = ref.slice(prefix.length);
  const n = Number.parseInt(digits, 36);
  // Only a canonical counter (what refOf writes back) becomes a number, so slots stay one-to-one.
  return n < MAX_COUNTER && n.toString(36) === digits ? n : ref;
}

export function refOf(prefix: string, slot: Slot): string {
  return typeof slot === "number" ? prefix + slot.toString(36) : slot;
}

export function pack(key: string, meta: RenderedMeta): Packed {
  const { phx_ref: _, ...fields } = meta;
  // V8 (Node 20) keeps the string JSON.stringify returns in a buffer about 50 bytes larger than
  // its text, for as long as the string lives; a copy through UTF-8 is allocated to size. The
  // JSON is well-formed UTF-16 (JSON.stringify escapes lone surrogates), so the copy is exact.
  return Buffer.from(JSON.stringify([key, fields]), "utf8").toString("utf8");
}

/**
 * The entry as clients see it (a fresh meta, `phx_ref` last, then `phx_ref_prev` when there is
 * one, as `render` orders them).
 */
export function unpack(prefix: string, slot: Slot, packed: Packed): Entry {
  const [key, fields] = JSON.parse(packed) as [string, RenderedMeta];
  const ref = refOf(prefix, slot);
  if (fields.phx_ref_prev === undefined) {
    fields.phx_ref = ref;
    return { key, meta: fields };
  }
  const { phx_ref_prev, ...rest } = fields;
  return { key, meta: Object.assign(rest, { phx_ref: ref, phx_ref_prev }) as RenderedMeta };
}
