/** @module Tokens for tests, minted the way seed 004's PyJWT example mints them (no jose). */
import { createHmac } from "node:crypto";

const b64url = (v: unknown) =>
  Buffer.from(typeof v === "string" ? v : JSON.stringify(v)).toString("base64url");

/** `jwt.encode(payload, secret, algorithm="HS256")`, byte for byte. */
export function pyjwtHs256(
  payload: Record<string, unknown>,
  secret: string,
  header: Record<string, unknown> = {},
): string {
  const head = b64url({ alg: "HS256", typ: "JWT", ...header });
  const body = b64url(payload);
  const sig = createHmac("sha256", secret).update(`${head}.${body}`).digest("base64url");
  return `${head}.${body}.${sig}`;
}

/** An unsigned token (`alg: none`), the classic forgery. */
export function unsignedJwt(payload: Record<string, unknown>): string {
  return `${b64url({ alg: "none", typ: "JWT" })}.${b64url(payload)}.`;
}

export function hs512(payload: Record<string, unknown>, secret: string): string {
  const head = b64url({ alg: "HS512", typ: "JWT" });
  const body = b64url(payload);
  return `${head}.${body}.${createHmac("sha512", secret).update(`${head}.${body}`).digest("base64url")}`;
}
