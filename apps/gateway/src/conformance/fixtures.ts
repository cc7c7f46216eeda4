/**
 * @module
 * Shared set-up for the conformance suite: the protocol test channels behind a router that
 * records every handler call, so a test can prove a handler did NOT run (stale join_ref,
 * unjoined topic) instead of inferring it from silence.
 */
import type { ChannelHandler } from "../channels/channel.js";
import type { Router } from "../channels/router.js";
import { protocolTestRouter } from "../testing/protocol-channels.js";

export interface SpyRouter {
  router: Router;
  /** `"<topic> <event>"` for every handleIn call, in order. */
  calls: string[];
}

export function spyRouter(): SpyRouter {
  const base = protocolTestRouter();
  const calls: string[] = [];
  const wrapped = new Map<ChannelHandler, ChannelHandler>();
  const wrap = (h: ChannelHandler): ChannelHandler => {
    let w = wrapped.get(h);
    if (!w) {
      w = {
        ...h,
        handleIn(event, payload, ctx, state) {
          calls.push(`${ctx.topic} ${event}`);
          return h.handleIn(event, payload, ctx, state);
        },
      };
      wrapped.set(h, w);
    }
    return w;
  };
  return {
    calls,
    router: {
      route(topic) {
        const h = base.route(topic);
        return h && wrap(h);
      },
    },
  };
}
