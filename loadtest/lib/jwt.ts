/** @module HS256 access tokens for the load users, shaped like seed 004's PyJWT tokens ({sub, iat, exp}). */
import { createHmac } from "node:crypto";

const b64url = (v: unknown) => Buffer.from(JSON.stringify(v)).toString("base64url");

export function mintToken(userId: string, secret: string, ttlSeconds = 6 * 3600): string {
  // iat a minute in the past: a token must not look issued in the same second as a sign-out.
  const now = Math.floor(Date.now() / 1000);
  const head = b64url({ alg: "HS256", typ: "JWT" });
  const body = b64url({ sub: userId, iat: now - 60, exp: now + ttlSeconds });
  const sig = createHmac("sha256", secret).update(`${head}.${body}`).digest("base64url");
  return `${head}.${body}.${sig}`;
}
