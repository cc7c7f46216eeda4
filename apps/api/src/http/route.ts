/**
 * @module
 * A route is data: method, path, schemas, documentation and a handler. The same table mounts
 * the routes on uWS (router.ts) and generates the OpenAPI document (openapi.ts), so the
 * document cannot drift from what is served.
 */
import type { Logger } from "@nexus/config";
import type { z } from "zod";
import type { RateRuleName } from "../services/rate-limit.js";
import type { Reply } from "./reply.js";

export type Method = "get" | "post" | "put" | "patch" | "del";

export interface Ctx<B, Q, P> {
  body: B;
  query: Q;
  params: P;
  /** Client address (see `trustProxyHops`). */
  ip: string;
  log: Logger;
  /** Counts one hit of `rule` for `key`; returns the 429 to send when over the limit. */
  limit(rule: RateRuleName, key: string): Promise<Reply | undefined>;
}

export interface AuthedCtx<B, Q, P> extends Ctx<B, Q, P> {
  /** The bearer token's user (lowercase UUID). */
  userId: string;
}

export interface ResponseDoc {
  description: string;
  schema?: z.ZodType;
}

export interface RouteDoc {
  summary: string;
  description?: string;
  tag: string;
  /** Success and specific error responses; the generic errors (400, 401, 413, 422, 429, 500) are added. */
  responses: Record<number, ResponseDoc>;
}

export interface Route {
  method: Method;
  /** uWS pattern: `/api/conversations/:id/members/:user_id`. */
  path: string;
  /** true: a user's access token; "admin": ADMIN_TOKEN (operator endpoints); false: anyone. */
  auth: boolean | "admin";
  body?: z.ZodType;
  query?: z.ZodType;
  params?: z.ZodType;
  maxBodyBytes?: number;
  /** A per-IP rule counted before anything else (auth endpoints). */
  ipLimit?: RateRuleName;
  doc: RouteDoc;
  handle(ctx: AuthedCtx<unknown, unknown, unknown>): Promise<Reply>;
}

interface RouteDef<B, Q, P, C> {
  method: Method;
  path: string;
  body?: z.ZodType<B>;
  query?: z.ZodType<Q>;
  params?: z.ZodType<P>;
  maxBodyBytes?: number;
  ipLimit?: RateRuleName;
  doc: RouteDoc;
  handler(ctx: C): Promise<Reply>;
}

/** A route anyone may call. */
export function publicRoute<B = undefined, Q = undefined, P = undefined>(
  def: RouteDef<B, Q, P, Ctx<B, Q, P>>,
): Route {
  const { handler, ...rest } = def;
  return { ...rest, auth: false, handle: (ctx) => handler(ctx as unknown as Ctx<B, Q, P>) } as Route;
}

/** A route that needs `Authorization: Bearer <auth_token>`. */
export function authedRoute<B = undefined, Q = undefined, P = undefined>(
  def: RouteDef<B, Q, P, AuthedCtx<B, Q, P>>,
): Route {
  const { handler, ...rest } = def;
  return { ...rest, auth: true, handle: (ctx) => handler(ctx as unknown as AuthedCtx<B, Q, P>) } as Route;
}

/**
 * An operator endpoint: `Authorization: Bearer <ADMIN_TOKEN>`. Without ADMIN_TOKEN configured
 * the route answers 404, as if it did not exist.
 */
export function adminRoute<B = undefined, Q = undefined, P = undefined>(
  def: RouteDef<B, Q, P, Ctx<B, Q, P>>,
): Route {
  const { handler, ...rest } = def;
  return { ...rest, auth: "admin", handle: (ctx) => handler(ctx as unknown as Ctx<B, Q, P>) } as Route;
}

/** Parameter names of a uWS pattern, in order (uWS hands them out by index). */
export function paramNames(path: string): string[] {
  return path
    .split("/")
    .filter((s) => s.startsWith(":"))
    .map((s) => s.slice(1));
}

/** `/api/x/:id` → `/api/x/{id}` (OpenAPI path template). */
export function openApiPath(path: string): string {
  return path.replace(/:([A-Za-z_][A-Za-z0-9_]*)/g, "{$1}");
}
