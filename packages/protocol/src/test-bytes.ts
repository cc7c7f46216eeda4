/** @module Test helper: frames written the way PROTOCOL.md writes them, as bytes and "ascii" strings. */

/** `frame(0, 2, "11")` → Uint8Array [0, 2, 0x31, 0x31]; strings are written as UTF-8. */
export function frame(...parts: (number | string)[]): Uint8Array<ArrayBuffer> {
  const out: number[] = [];
  const encoder = new TextEncoder();
  for (const p of parts) {
    if (typeof p === "number") out.push(p);
    else out.push(...encoder.encode(p));
  }
  return Uint8Array.from(out);
}

export function utf8(s: string): Uint8Array<ArrayBuffer> {
  return new TextEncoder().encode(s);
}
