/** @module Byte buffers for frames, allocated the fast way on Node. */

/**
 * A fresh off-heap `Uint8Array` of more than 64 bytes costs about 400 ns in V8; Node's
 * `Buffer.allocUnsafe` carves small ones out of a shared 8 KB slab in about 40 ns. Callers must
 * overwrite every byte (the memory is not zeroed) and treat the result as a view: its `.buffer`
 * may be the shared slab, so use `byteOffset`/`byteLength` (uWS `send` does).
 */
export const allocBytes: (size: number) => Uint8Array =
  typeof Buffer === "function"
    ? (size) => {
        const b = Buffer.allocUnsafe(size);
        // A plain Uint8Array over the same memory: Buffer's own slice() is a view, not a copy, a
        // trap for callers who were promised a Uint8Array.
        return new Uint8Array(b.buffer, b.byteOffset, size);
      }
    : (size) => new Uint8Array(size);

/** A copy of `bytes[start..]`, so the result outlives the caller's buffer. */
export function copyFrom(bytes: Uint8Array, start: number): Uint8Array {
  const out = allocBytes(bytes.length - start);
  out.set(bytes.subarray(start));
  return out;
}
