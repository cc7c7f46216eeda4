/**
 * @module
 * Channel telemetry in Phoenix's terms (`[:phoenix, :channel_joined]`, `[:phoenix,
 * :channel_handled_in]`): how long each join and each client push took in its handler. Added
 * as a decorator around the route table's handlers, so sessions and channels know nothing of
 * it and a node without telemetry runs the handlers unwrapped.
 *
 * Labels stay bounded whatever clients send: the channel is the route's prefix (`chat`,
 * `conversation`, …), the event one of the events some handler knows (anything else is
 * `other`), the status one of a few words.
 */
import type { ChannelHandler, HandleResult, JoinResult } from "../channels/channel.js";

export type JoinStatus = "ok" | "error" | "crash";
export type HandleStatus = "ok" | "error" | "noreply" | "stop" | "crash";

/** Where the measurements go (a Prometheus registry in production; an array in tests). */
export interface ChannelTelemetry {
  joined(channel: string, status: JoinStatus, seconds: number): void;
  handledIn(channel: string, event: string, status: HandleStatus, seconds: number): void;
}

/** Every client event a Nexus channel handles; the AsyncAPI tests pin the handlers to their documents. */
export const KNOWN_EVENTS: ReadonlySet<string> = new Set([
  "new_msg",
  "update_msg",
  "delete_msg",
  "update_presence",
  "ping",
]);

/** `chat:*` → `chat`, `system:general` → `system`. */
export function channelLabel(routePattern: string): string {
  const colon = routePattern.indexOf(":");
  return colon > 0 ? routePattern.slice(0, colon) : routePattern.replace(/\*$/, "");
}

function handleStatus(r: HandleResult): HandleStatus {
  if ("stop" in r) return "stop";
  if ("noreply" in r) return "noreply";
  return r.reply.status === "ok" ? "ok" : "error";
}

const seconds = (since: number) => (performance.now() - since) / 1000;

export function instrumentHandler<S>(
  channel: string,
  handler: ChannelHandler<S>,
  telemetry: ChannelTelemetry,
): ChannelHandler<S> {
  const wrapped: ChannelHandler<S> = {
    ...handler,
    join(topic, params, ctx) {
      const t0 = performance.now();
      const done = (r: JoinResult<S>) => {
        telemetry.joined(channel, r.ok ? "ok" : "error", seconds(t0));
        return r;
      };
      const crashed = (e: unknown): never => {
        telemetry.joined(channel, "crash", seconds(t0));
        throw e;
      };
      let out: Promise<JoinResult<S>> | JoinResult<S>;
      try {
        out = handler.join(topic, params, ctx);
      } catch (e) {
        return crashed(e);
      }
      return out instanceof Promise ? out.then(done, crashed) : done(out);
    },
    handleIn(event, payload, ctx, state) {
      const t0 = performance.now();
      const label = KNOWN_EVENTS.has(event) ? event : "other";
      const done = (r: HandleResult) => {
        telemetry.handledIn(channel, label, handleStatus(r), seconds(t0));
        return r;
      };
      const crashed = (e: unknown): never => {
        telemetry.handledIn(channel, label, "crash", seconds(t0));
        throw e;
      };
      let out: Promise<HandleResult> | HandleResult;
      try {
        out = handler.handleIn(event, payload, ctx, state);
      } catch (e) {
        return crashed(e);
      }
      // A synchronous handler stays synchronous: the session answers it in the same turn.
      return out instanceof Promise ? out.then(done, crashed) : done(out);
    },
  };
  return wrapped;
}

/** The route table with every handler instrumented (patterns unchanged). */
export function instrumentRoutes(
  routes: Record<string, ChannelHandler>,
  telemetry: ChannelTelemetry | undefined,
): Record<string, ChannelHandler> {
  if (!telemetry) return routes;
  return Object.fromEntries(
    Object.entries(routes).map(([pattern, h]) => [
      pattern,
      instrumentHandler(channelLabel(pattern), h, telemetry),
    ]),
  );
}
