/**
 * @module
 * Reading a request body from uWS with a size limit. uWS hands the body over in chunks
 * (`onData`) whose ArrayBuffers are neutered when the callback returns, so every chunk is
 * copied; a body over the limit stops being collected at once (no unbounded buffering).
 *
 * `readBody` must be called synchronously inside the route handler, before any `await`: uWS
 * may deliver the first chunk right after the handler returns, and a chunk that arrives with
 * no `onData` registered is lost.
 */
import type { HttpResponse } from "./uws.js";

export type BodyResult =
  | { ok: true; body: Buffer }
  /** `too_large`: more than `limit` bytes were announced or sent; answer 413 and close the connection. */
  | { ok: false; reason: "too_large" | "aborted" };

export interface ReadBodyOptions {
  /** Most bytes accepted. */
  limit: number;
  /** The request's `content-length` header as read in the handler ("" when absent). */
  contentLength?: string;
  /** Aborted when the client goes away (wire it to the response's single `onAborted`). */
  signal: AbortSignal;
}

export function readBody(
  res: HttpResponse,
  { limit, contentLength, signal }: ReadBodyOptions,
): Promise<BodyResult> {
  if (signal.aborted) return Promise.resolve({ ok: false, reason: "aborted" });
  // A declared length over the limit is refused before a byte is read.
  if (contentLength !== undefined && contentLength !== "") {
    const declared = Number(contentLength);
    if (Number.isFinite(declared) && declared > limit)
      return Promise.resolve({ ok: false, reason: "too_large" });
  }
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    const finish = (result: BodyResult) => {
      if (done) return;
      done = true;
      signal.removeEventListener("abort", onAbort);
      resolve(result);
    };
    const onAbort = () => finish({ ok: false, reason: "aborted" });
    signal.addEventListener("abort", onAbort, { once: true });
    res.onData((chunk, isLast) => {
      if (done) return;
      size += chunk.byteLength;
      if (size > limit) {
        finish({ ok: false, reason: "too_large" });
        return;
      }
      // Copy: the ArrayBuffer is neutered when this callback returns.
      chunks.push(Buffer.from(new Uint8Array(chunk).slice()));
      if (isLast) finish({ ok: true, body: chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size) });
    });
  });
}
