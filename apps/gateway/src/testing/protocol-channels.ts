/**
 * @module
 * Channels that behave like the ones in Phoenix's own integration tests (PROTOCOL.md §8), so
 * the conformance suite can drive every protocol path: refused and crashing joins, noreply,
 * crashes, stops, binary replies, broadcasts and broadcast_from.
 *
 * Join params of `room:*`: `refuse` (join refused with that detail), `crash` (join raises),
 * `reply_with` (the ok reply), `delay_ms` (the join takes that long), `announce` (broadcast_from
 * "announce" during join and "left" when the channel terminates), `bad_reply` (an ok reply that
 * cannot be encoded as JSON).
 */
import type { ChannelHandler, JsonObject } from "../channels/channel.js";
import { createRouter, type Router } from "../channels/router.js";

type JoinParams = JsonObject & { delay_ms?: number };

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const room: ChannelHandler<{ announce: boolean }> = {
  join(_topic, params, ctx) {
    const p = (params ?? {}) as JoinParams;
    const decide = () => {
      if (p.refuse) return { ok: false as const, reply: { reason: "refused", detail: p.refuse } };
      if (p.crash) throw new Error("join crashed on purpose");
      if (p.announce) ctx.broadcastFrom("announce", { user: ctx.userId });
      // A BigInt has no JSON form: the reply cannot be encoded.
      if (p.bad_reply) return { ok: true as const, state: { announce: false }, reply: { n: 1n } };
      const reply = p.reply_with ? (p.reply_with as JsonObject) : undefined;
      return { ok: true as const, state: { announce: p.announce === true }, reply };
    };
    return p.delay_ms ? sleep(Number(p.delay_ms)).then(decide) : decide();
  },
  terminate(reason, ctx, state) {
    if (state.announce) ctx.broadcastFrom("left", { user: ctx.userId, reason });
  },
  afterJoin(ctx) {
    ctx.push("joined", { status: "connected", user_id: ctx.userId });
    ctx.broadcast("user_entered", { user: ctx.userId });
  },
  handleIn(event, payload, ctx) {
    const p = (payload ?? {}) as JsonObject;
    switch (event) {
      case "new_msg":
        ctx.broadcast("new_msg", p);
        return { reply: { status: "ok", response: {} } };
      case "params":
        return { reply: { status: "ok", response: { ...ctx.params } } };
      case "echo":
        return { reply: { status: "ok", response: p } };
      case "refuse":
        return { reply: { status: "error", response: { reason: "nope" } } };
      case "noreply":
        return { noreply: true };
      case "broadcast_from":
        ctx.broadcastFrom("from_other", p);
        return { reply: { status: "ok", response: {} } };
      case "push":
        ctx.push("pushed", p);
        return { noreply: true };
      case "slow":
        return new Promise((resolve) =>
          setTimeout(
            () => resolve({ reply: { status: "ok", response: { slow: true } } }),
            Number(p.ms ?? 50),
          ),
        );
      case "boom":
        throw new Error("handler raised on purpose");
      case "async_boom":
        return Promise.reject(new Error("async handler raised on purpose"));
      case "stop":
        return { stop: "shutdown" };
      case "binary_broadcast":
        ctx.broadcast("bin", Uint8Array.of(9, 8, 7));
        return { reply: { status: "ok", response: {} } };
      case "bad_broadcast":
        // Not a map: Phoenix raises in the channel, which crashes it.
        ctx.broadcast("bad", [1, 2] as unknown as JsonObject);
        return { reply: { status: "ok", response: {} } };
      case "flood": {
        // To everyone else on the topic: `count` frames of `size` bytes (the slow-consumer test).
        const data = "x".repeat(Number(p.size ?? 1000));
        for (let i = 0; i < Number(p.count ?? 1); i++) ctx.broadcastFrom("flood", { i, data });
        return { reply: { status: "ok", response: {} } };
      }
      case "binary_event":
        if (!(payload instanceof Uint8Array))
          return { reply: { status: "error", response: { reason: "expected binary" } } };
        ctx.push("binary_event", Uint8Array.of(0, 1));
        return { reply: { status: "ok", response: Uint8Array.of(1, 2, 3, 4) } };
      default:
        return { reply: { status: "error", response: { reason: "unknown event", event } } };
    }
  },
};

const ignore: ChannelHandler = {
  join: () => ({ ok: false, reply: { action: "ignore" } }),
  handleIn: () => ({ noreply: true }),
};

const error: ChannelHandler = {
  join() {
    throw new Error("custom:error join raises");
  },
  handleIn: () => ({ noreply: true }),
};

export function protocolTestRouter(): Router {
  return createRouter({ "room:*": room, "custom:ignore": ignore, "custom:error": error });
}
