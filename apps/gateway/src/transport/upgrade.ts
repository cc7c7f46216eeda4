/**
 * @module
 * The HTTP upgrade to a Phoenix socket (PROTOCOL.md §1): vsn negotiation, origin check, token
 * from the `authToken` subprotocol or `params.token`, all decided before the 101. Any refusal
 * is a bare 403, as Phoenix sends, so clients cannot probe which check failed; a draining node
 * answers 503.
 *
 * uWS lifetimes: `req` is only valid until the first await, so everything needed is copied
 * out synchronously; after the await the response may have been aborted by the client.
 */
import type { HttpRequest, HttpResponse } from "@nexus/http";
import { negotiateSerializer, type Serializer } from "@nexus/protocol";
import { parseSubprotocols } from "./subprotocol.js";

export type AuthResult = { ok: true; userId: string } | { ok: false; reason: string };

/** What the upgrade decided about a socket. */
export interface Accepted {
  userId: string;
  serializer: Serializer;
  /** Frozen, and shared by sockets with identical params. */
  params: Readonly<Record<string, string>>;
}

export interface UpgradeDeps<UserData> {
  authenticate(token: string): Promise<AuthResult>;
  /**
   * The socket's uWS user data. uWS copies its properties onto the socket object one by one,
   * so the fewer it has, the smaller every socket (see gateway.ts).
   */
  accept(accepted: Accepted): UserData;
  originAllowed(origin: string): boolean;
  onRefused(reason: string, detail: { origin: string; ip: string }): void;
  /**
   * True once the node drains: the upgrade is answered 503. Its listen socket is closed by then,
   * but a keep-alive connection can still ask, and an upgrade that was authenticating when the
   * drain began still arrives; opened, either would only be closed again by the drain.
   */
  draining?(): boolean;
}

// The uWS context type is opaque; it is only passed back to res.upgrade.
type UpgradeContext = Parameters<HttpResponse["upgrade"]>[4];

/** Distinct connect params kept for sharing; past this many, new ones are no longer shared. */
const MAX_SHARED_PARAMS = 1_000;

export function createUpgradeHandler<UserData>(deps: UpgradeDeps<UserData>) {
  // Nearly every client connects with the same params (vsn, once the token is removed): those
  // sockets share one frozen object rather than each keeping its own copy, strings included.
  const sharedParams = new Map<string, Readonly<Record<string, string>>>();
  const share = (params: Record<string, string>): Readonly<Record<string, string>> => {
    const key = JSON.stringify(params);
    const known = sharedParams.get(key);
    if (known) return known;
    const frozen = Object.freeze(params);
    if (sharedParams.size < MAX_SHARED_PARAMS) sharedParams.set(key, frozen);
    return frozen;
  };

  return (res: HttpResponse, req: HttpRequest, context: UpgradeContext): void => {
    const key = req.getHeader("sec-websocket-key");
    const protocols = req.getHeader("sec-websocket-protocol");
    const extensions = req.getHeader("sec-websocket-extensions");
    const origin = req.getHeader("origin");
    const query = req.getQuery() ?? "";
    const ip = Buffer.from(res.getRemoteAddressAsText()).toString();
    let aborted = false;
    res.onAborted(() => {
      aborted = true;
    });

    const refuse = (reason: string, status = "403 Forbidden") => {
      deps.onRefused(reason, { origin, ip });
      if (aborted) return;
      res.cork(() => {
        res.writeStatus(status).end();
      });
    };
    const draining = () => deps.draining?.() === true;
    if (draining()) {
      refuse("draining", "503 Service Unavailable");
      return;
    }

    const params: Record<string, string> = {};
    for (const [k, v] of new URLSearchParams(query)) params[k] = v;
    const checked = checkRequest(params, origin, protocols, (o) => deps.originAllowed(o));
    if (!checked.ok) {
      refuse(checked.reason);
      return;
    }
    const { serializer, echo, token } = checked;
    // The token is a secret: it must not linger in the params channels can read.
    delete params.token;
    const connectParams = share(params);

    // Called through a promise so a verifier that throws synchronously refuses this socket
    // instead of throwing into uWS (which would take the process down).
    Promise.resolve(token)
      .then((t) => deps.authenticate(t))
      .then(
        (auth) => {
          if (!auth.ok) return refuse(`token refused: ${auth.reason}`);
          if (draining()) return refuse("draining", "503 Service Unavailable");
          if (aborted) return;
          res.cork(() => {
            res.upgrade<UserData>(
              deps.accept({ userId: auth.userId, serializer, params: connectParams }),
              key,
              echo,
              extensions,
              context,
            );
          });
        },
        () => refuse("authentication failed"),
      );
  };
}

type Checked =
  | { ok: true; serializer: Serializer; echo: string; token: string }
  | { ok: false; reason: string };

/** Everything decided before authentication, in Phoenix's order: vsn, origin, subprotocol, token. */
function checkRequest(
  params: Record<string, string>,
  origin: string,
  protocols: string,
  originAllowed: (origin: string) => boolean,
): Checked {
  const serializer = negotiateSerializer(params.vsn);
  if (!serializer) return { ok: false, reason: "unsupported vsn" };
  if (!originAllowed(origin)) return { ok: false, reason: "origin not allowed" };
  const sub = parseSubprotocols(protocols);
  if (!sub.ok) return sub;
  const token = sub.token ?? params.token;
  if (!token) return { ok: false, reason: "no token" };
  return { ok: true, serializer, echo: sub.echo, token };
}
