/**
 * @module
 * "Is this user a member of that conversation?", asked on every join. Answers come from
 * Postgres and are cached briefly; concurrent joins of one pair share a single read. The api
 * announces membership changes on the bus and every node drops what it cached for the pair.
 */
import { type Db, isMember } from "@nexus/db";
import { LRUCache } from "lru-cache";

export interface Membership {
  isMember(conversationId: string, userId: string): Promise<boolean>;
  invalidate(conversationId: string, userId?: string): void;
}

export function createMembership(
  db: Db,
  { ttlMs = 30_000, max = 100_000 }: { ttlMs?: number; max?: number } = {},
): Membership {
  const cache = new LRUCache<string, boolean, { conversationId: string; userId: string }>({
    max,
    ttl: ttlMs,
    fetchMethod: (_key, _stale, { context }) => isMember(db, context.conversationId, context.userId),
  });
  return {
    async isMember(conversationId, userId) {
      return (
        (await cache.fetch(`${conversationId}|${userId}`, { context: { conversationId, userId } })) === true
      );
    },
    invalidate(conversationId, userId) {
      if (userId !== undefined) {
        cache.delete(`${conversationId}|${userId}`);
        return;
      }
      for (const key of cache.keys()) if (key.startsWith(`${conversationId}|`)) cache.delete(key);
    },
  };
}
