import { describe, expect, it } from "vitest";
import { parseSubprotocols } from "./subprotocol.js";

describe("authToken subprotocol", () => {
  it("PROTOCOL.md §8 case 6: decodes the bearer token and echoes phoenix", () => {
    expect(parseSubprotocols("phoenix, base64url.bearer.phx.MTIzNA")).toEqual({
      ok: true,
      echo: "phoenix",
      token: "1234",
    });
  });

  it("accepts padded, unpadded and url-safe base64 (a JWT's btoa has + and /)", () => {
    const token = "eyJ0eXAi.eyJzdWIi?>>.sig~~";
    const b64 = Buffer.from(token).toString("base64");
    expect(parseSubprotocols(`phoenix, base64url.bearer.phx.${b64.replace(/=+$/, "")}`)).toMatchObject({
      token,
    });
    expect(parseSubprotocols(`phoenix,base64url.bearer.phx.${b64}`)).toMatchObject({ token });
    const url = Buffer.from(token).toString("base64url");
    expect(parseSubprotocols(`base64url.bearer.phx.${url}, phoenix`)).toMatchObject({ token });
  });

  it("no header: no echo, no token", () => {
    expect(parseSubprotocols("")).toEqual({ ok: true, echo: "", token: undefined });
  });

  it("phoenix alone is fine; anything without phoenix is refused", () => {
    expect(parseSubprotocols("phoenix")).toEqual({ ok: true, echo: "phoenix", token: undefined });
    expect(parseSubprotocols("mqtt").ok).toBe(false);
    expect(parseSubprotocols("base64url.bearer.phx.MTIzNA").ok).toBe(false);
  });

  it("refuses two bearer entries and bad base64", () => {
    expect(parseSubprotocols("phoenix, base64url.bearer.phx.MQ, base64url.bearer.phx.Mg").ok).toBe(false);
    expect(parseSubprotocols("phoenix, base64url.bearer.phx.$$$").ok).toBe(false);
    expect(parseSubprotocols("phoenix, base64url.bearer.phx.").ok).toBe(false);
  });
});
