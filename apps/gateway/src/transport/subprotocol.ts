/**
 * @module
 * The Phoenix 1.8 `authToken` handshake (PROTOCOL.md §1): the client offers
 * `Sec-WebSocket-Protocol: phoenix, base64url.bearer.phx.<B>` where <B> is btoa(token) with
 * the padding removed (standard base64 despite the prefix). We take the token out and must
 * echo `phoenix`, or browsers abort the handshake.
 */

const PREFIX = "base64url.bearer.phx.";
const BASE64 = /^[A-Za-z0-9+/_-]*={0,2}$/;

export type SubprotocolResult =
  /** echo: what to put in the 101's Sec-WebSocket-Protocol ("" = no header). */
  { ok: true; echo: string; token: string | undefined } | { ok: false; reason: string };

export function parseSubprotocols(header: string): SubprotocolResult {
  if (header.trim() === "") return { ok: true, echo: "", token: undefined };
  const offered = header
    .split(",")
    .map((p) => p.trim())
    .filter(Boolean);
  const bearers = offered.filter((p) => p.startsWith(PREFIX));
  if (bearers.length > 1) return { ok: false, reason: "more than one bearer subprotocol" };
  let token: string | undefined;
  if (bearers.length === 1) {
    const b64 = bearers[0]!.slice(PREFIX.length);
    if (!BASE64.test(b64) || b64.replace(/=+$/, "").length % 4 === 1)
      return { ok: false, reason: "bearer token is not base64" };
    token = Buffer.from(b64, "base64").toString("utf8");
    if (token === "") return { ok: false, reason: "empty bearer token" };
  }
  const rest = offered.filter((p) => !p.startsWith(PREFIX));
  if (!rest.includes("phoenix")) return { ok: false, reason: "subprotocol phoenix not offered" };
  return { ok: true, echo: "phoenix", token };
}
