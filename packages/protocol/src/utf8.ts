/** @module UTF-8 for frame bytes: strict decoding, exact byte lengths, fast paths for short ASCII fields. */

const encoder = new TextEncoder();
// fatal: invalid bytes must become a 1007 close, not U+FFFD. ignoreBOM: keep a BOM as a character
// rather than silently strip it, so a BOM before JSON text is malformed, as it is for Phoenix.
const strictDecoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** Strict UTF-8 decode; null when the bytes are not valid UTF-8. */
export function decodeUtf8(bytes: ArrayBuffer | Uint8Array): string | null {
  try {
    return strictDecoder.decode(bytes);
  } catch {
    return null;
  }
}

// Below this many bytes a JS loop beats the call into the native decoder or encoder (measured on
// Node 20: ~10 ns for a 2-byte ref against ~70 ns); above it, native wins.
const SHORT = 16;

/** Decodes `bytes[start, end)`; null when invalid. */
export function readUtf8(bytes: Uint8Array, start: number, end: number): string | null {
  if (end - start <= SHORT) {
    let s = "";
    for (let i = start; i < end; i++) {
      const b = bytes[i]!;
      if (b >= 0x80) return decodeUtf8(bytes.subarray(start, end));
      s += String.fromCharCode(b);
    }
    return s;
  }
  return decodeUtf8(bytes.subarray(start, end));
}

/**
 * The number of bytes `TextEncoder` would produce for `s`, without encoding it. A lone surrogate
 * counts 3 bytes because TextEncoder replaces it with U+FFFD.
 */
export function utf8Length(s: string): number {
  const n = s.length;
  let bytes = n;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) continue;
    if (c < 0x800) {
      bytes += 1;
    } else if (c >= 0xd800 && c <= 0xdbff && i + 1 < n && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      bytes += 2; // a pair is 2 code units and 4 bytes
      i++;
    } else {
      bytes += 2;
    }
  }
  return bytes;
}

/** Writes `s` at `offset`, given its precomputed `byteLength`; returns the offset after it. */
export function writeUtf8(s: string, out: Uint8Array, offset: number, byteLength: number): number {
  if (byteLength === s.length && byteLength <= SHORT) {
    for (let i = 0; i < byteLength; i++) out[offset + i] = s.charCodeAt(i);
  } else {
    encoder.encodeInto(s, out.subarray(offset, offset + byteLength));
  }
  return offset + byteLength;
}
