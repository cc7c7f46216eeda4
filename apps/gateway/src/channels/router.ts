/**
 * @module
 * Topic routing: `chat:*` matches any topic with that prefix, an exact string matches only
 * itself. Validated when built, so a bad table fails at boot rather than at first join.
 */
import type { ChannelHandler } from "./channel.js";

export interface Router {
  route(topic: string): ChannelHandler | undefined;
}

export function createRouter(routes: Record<string, ChannelHandler>): Router {
  const exact = new Map<string, ChannelHandler>();
  const prefixes: Array<[string, ChannelHandler]> = [];
  for (const [pattern, handler] of Object.entries(routes)) {
    const star = pattern.indexOf("*");
    if (star === -1) {
      exact.set(pattern, handler);
      continue;
    }
    if (star !== pattern.length - 1)
      throw new Error(`route ${JSON.stringify(pattern)}: the splat (*) must be last`);
    if (pattern === "*") throw new Error('route "*": a catch-all route would swallow unmatched topics');
    prefixes.push([pattern.slice(0, -1), handler]);
  }
  // Longest prefix first, so `room:admin:*` wins over `room:*`.
  prefixes.sort((a, b) => b[0].length - a[0].length);
  return {
    route(topic) {
      const hit = exact.get(topic);
      if (hit) return hit;
      for (const [prefix, handler] of prefixes) if (topic.startsWith(prefix)) return handler;
      return undefined;
    },
  };
}
