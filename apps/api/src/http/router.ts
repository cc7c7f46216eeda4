/**
 * @module
 * Mounts a route table on a uWS app. Per request, in this order: per-IP rate limit, body
 * (≤ the route's limit, else 413), bearer auth (401), JSON (400), params/query/body validation
 * (422), handler. uWS lifetimes are respected: everything needed from `req` is copied before
 * the first await, the abort handler is attached at once, and the answer is written corked
 * (and never after the client went away).
 */
import type { Logger } from "@nexus/config";
import { type HttpRequest, type HttpResponse, readBody, statusLine, type TemplatedApp } from "@nexus/http";
import type { RateLimiter, RateLimits, RateRuleName } from "../services/rate-limit.js";
import type { ObserveResponse } from "./metrics.js";
import {
  badRequest,
  internalError,
  mergeErrors,
  methodNotAllowed,
  notFound,
  payloadTooLarge,
  type Reply,
  tooManyRequests,
  unauthorized,
  unprocessable,
} from "./reply.js";
import { type Method, paramNames, type Route } from "./route.js";
import { validate } from "./validate.js";

export const DEFAULT_MAX_BODY_BYTES = 64 * 1024;

export interface RouterDeps {
  log: Logger;
  /** Verifies a bearer token: the user, or undefined for anything not a live access token. */
  authenticate(token: string): Promise<string | undefined>;
  /** Checks ADMIN_TOKEN for operator routes; undefined = no admin token configured (they 404). */
  isAdmin?: (token: string) => boolean;
  rateLimiter: RateLimiter;
  limits: RateLimits;
  /**
   * Proxies in front of this node that append to X-Forwarded-For (0 = use the socket address).
   * With N, the client is the Nth address from the right: what the nearest trusted proxy saw.
   */
  trustProxyHops: number;
  /** Every answer written: the route's pattern (`(unmatched)` for 404s/405s outside the table). */
  observe?: ObserveResponse;
}

interface Incoming {
  method: string;
  path: string;
  ip: string;
  authorization: string;
  params: Record<string, string>;
  query: Record<string, string>;
}

const METHOD_NAMES: Record<Method, string> = {
  get: "GET",
  post: "POST",
  put: "PUT",
  patch: "PATCH",
  del: "DELETE",
};

export function mountRoutes(app: TemplatedApp, routes: readonly Route[], deps: RouterDeps): void {
  const byPath = new Map<string, Route[]>();
  for (const route of routes) {
    const list = byPath.get(route.path) ?? [];
    if (list.some((r) => r.method === route.method))
      throw new Error(`duplicate route ${route.method} ${route.path}`);
    list.push(route);
    byPath.set(route.path, list);
    app[route.method](route.path, (res, req) => serve(res, req, route, deps));
  }
  // uWS prefers a method-specific handler over `any` on the same pattern: the rest is 405.
  for (const [path, list] of byPath) {
    const allow = list.map((r) => METHOD_NAMES[r.method]).join(", ");
    app.any(path, (res, req) => {
      write(res, { ...methodNotAllowed(), headers: { allow } });
      deps.observe?.(req.getMethod().toUpperCase(), "(unmatched)", 405, 0);
    });
  }
  for (const prefix of ["/api/*", "/auth/*"])
    app.any(prefix, (res, req) => {
      write(res, notFound());
      deps.observe?.(req.getMethod().toUpperCase(), "(unmatched)", 404, 0);
    });
}

function serve(res: HttpResponse, req: HttpRequest, route: Route, deps: RouterDeps): void {
  const started = performance.now();
  const controller = new AbortController();
  res.onAborted(() => controller.abort());
  // `req` dies when this function returns: copy what we need first.
  const names = paramNames(route.path);
  const incoming: Incoming = {
    method: req.getMethod().toUpperCase(),
    path: req.getUrl(),
    ip: clientIp(res, req, deps.trustProxyHops),
    authorization: req.getHeader("authorization"),
    params: Object.fromEntries(names.map((n, i) => [n, req.getParameter(i)])),
    query: Object.fromEntries(new URLSearchParams(req.getQuery() ?? "")),
  };
  const body =
    route.method === "get"
      ? Promise.resolve(undefined)
      : readBody(res, {
          limit: route.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES,
          contentLength: req.getHeader("content-length"),
          signal: controller.signal,
        });
  handle(route, incoming, body, deps)
    .catch((err: unknown) => {
      deps.log.error({ err, method: incoming.method, path: incoming.path }, "request failed");
      return internalError();
    })
    .then((reply) => {
      if (controller.signal.aborted) return;
      write(res, reply);
      const elapsed = performance.now() - started;
      deps.observe?.(incoming.method, route.path, reply.status, elapsed / 1000);
      const ms = Math.round(elapsed * 10) / 10;
      deps.log.debug({ method: incoming.method, path: incoming.path, status: reply.status, ms }, "request");
    });
}

async function handle(
  route: Route,
  incoming: Incoming,
  bodyPromise: Promise<Awaited<ReturnType<typeof readBody>> | undefined>,
  deps: RouterDeps,
): Promise<Reply> {
  const log = deps.log;
  const limit = async (rule: RateRuleName, key: string): Promise<Reply | undefined> => {
    const decision = await deps.rateLimiter.hit(`${rule}:${key}`, deps.limits[rule]);
    return decision.ok ? undefined : tooManyRequests(decision.retryAfterMs);
  };
  if (route.ipLimit !== undefined) {
    const limited = await limit(route.ipLimit, incoming.ip);
    if (limited) return limited;
  }

  const raw = await bodyPromise;
  if (raw !== undefined && !raw.ok) return raw.reason === "too_large" ? payloadTooLarge() : internalError();

  let userId = "";
  if (route.auth === "admin") {
    if (deps.isAdmin === undefined) return notFound();
    const match = /^Bearer +([^ ]+) *$/i.exec(incoming.authorization);
    if (!match || !deps.isAdmin(match[1]!)) return unauthorized();
  } else if (route.auth) {
    const match = /^Bearer +([^ ]+) *$/i.exec(incoming.authorization);
    const found = match ? await deps.authenticate(match[1]!) : undefined;
    if (found === undefined) return unauthorized();
    userId = found;
  }

  let json: unknown = {};
  if (raw?.ok && raw.body.length > 0) {
    try {
      json = JSON.parse(raw.body.toString("utf8"));
    } catch {
      return badRequest("Malformed JSON body");
    }
  }

  const params = route.params ? validate(route.params, incoming.params) : ({ ok: true, value: {} } as const);
  const query = route.query ? validate(route.query, incoming.query) : ({ ok: true, value: {} } as const);
  const body = route.body ? validate(route.body, json) : ({ ok: true, value: undefined } as const);
  if (!params.ok || !query.ok || !body.ok) {
    return unprocessable(
      mergeErrors(params.ok ? {} : params.errors, query.ok ? {} : query.errors, body.ok ? {} : body.errors),
    );
  }
  return route.handle({
    body: body.value,
    query: query.value,
    params: params.value,
    ip: incoming.ip,
    log,
    limit,
    userId,
  });
}

function write(res: HttpResponse, reply: Reply): void {
  res.cork(() => {
    res.writeStatus(statusLine(reply.status));
    for (const [k, v] of Object.entries(reply.headers ?? {})) res.writeHeader(k, v);
    // A 413 leaves unread bytes on the connection: close it rather than parse them as a request.
    const close = reply.status === 413;
    if (reply.body === undefined || reply.status === 204) {
      res.end(undefined, close);
    } else {
      res.writeHeader("content-type", "application/json; charset=utf-8");
      res.end(JSON.stringify(reply.body), close);
    }
  });
}

function clientIp(res: HttpResponse, req: HttpRequest, hops: number): string {
  const socket = Buffer.from(res.getRemoteAddressAsText()).toString();
  if (hops <= 0) return socket;
  const chain = req
    .getHeader("x-forwarded-for")
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  return chain[chain.length - hops] ?? chain[0] ?? socket;
}
