import { describe, expect, it } from "vitest";
import { isNativeUws, requireNativeUws, UwsNotNativeError, uWS } from "./uws.js";

describe("uWebSockets.js loading", () => {
  it("loaded the native addon on this machine", () => {
    expect(isNativeUws()).toBe(true);
    expect(() => requireNativeUws()).not.toThrow();
  });

  it("recognises the pure-JS fallback and refuses it", () => {
    // The shape of the republish's fallback module: a plain JS App, no getParts.
    const fallback = { App: () => ({}), us_listen_socket_close: () => {}, _cfg: () => {} };
    expect(isNativeUws(fallback)).toBe(false);
    expect(() => requireNativeUws(fallback)).toThrow(UwsNotNativeError);
    expect(isNativeUws({ ...uWS, App: () => ({}) })).toBe(false);
  });
});
