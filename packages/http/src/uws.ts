/**
 * @module
 * The only importer of uWebSockets.js. The npm republish we install (DESIGN.md §10) silently
 * falls back to a slow pure-JS server when its native binary does not load; we never run on
 * that: `requireNativeUws()` is called before any server is built and throws instead.
 */
import uWS from "uWebSockets.js";

export type {
  HttpRequest,
  HttpResponse,
  TemplatedApp,
  us_listen_socket,
  WebSocket,
  WebSocketBehavior,
} from "uWebSockets.js";
export { uWS };

/** True when the loaded module is the native addon, not the JS fallback. */
export function isNativeUws(mod: unknown = uWS): boolean {
  const m = mod as { App?: unknown; getParts?: unknown };
  return (
    typeof m.getParts === "function" &&
    typeof m.App === "function" &&
    Function.prototype.toString.call(m.App).includes("[native code]")
  );
}

export class UwsNotNativeError extends Error {
  constructor() {
    super(
      `uWebSockets.js did not load its native binary (platform ${process.platform}-${process.arch}, ` +
        `Node ABI ${process.versions.modules}; or UWS_USE_FALLBACK is set) and fell back to a slow JS ` +
        "implementation. Nexus refuses to run on it: use Node 20 on Linux/macOS x64 or arm64 with glibc ≥ 2.27.",
    );
    this.name = "UwsNotNativeError";
  }
}

export function requireNativeUws(mod: unknown = uWS): void {
  if (!isNativeUws(mod)) throw new UwsNotNativeError();
}
