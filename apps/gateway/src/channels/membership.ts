/**
 * @module
 * "Is this user a member of that conversation?", asked on every join. Answers come from
 * Postgres and are cached briefly; concurrent joins of one pair share a single read. The api
 * announces membership changes on the bus and every node drops what it cached for the pair.
 *
 * The cache holds about one answer per connected user, so it is built small: a map per
 * conversation, keyed by the user id string the socket already holds (no
 * `${conversationId}|${userId}` string per answer), and an answer is a single number, its
 * expiry time, negative for "not a member". Past `max` answers, the least recently used
 * conversation loses its least recently used answer: not a strict LRU, but a bound on memory
 * that keeps what is in use.
 */
import { type Db, isMember } from "@nexus/db";

export interface Membership {
  isMember(conversationId: string, userId: string): Promise<boolean>;
  invalidate(conversationId: string, userId?: string): void;
}

/** An expiry time (epoch ms; negative: not a member), or the read under way. */
type Answer = number | Promise<boolean>;

export interface MembershipOptions {
  /** How long an answer is kept. */
  ttlMs?: number;
  /** Answers kept at most. */
  max?: number;
  /** Clock in epoch ms; tests inject one. */
  now?: () => number;
}

export function createMembership(
  db: Db,
  { ttlMs = 30_000, max = 100_000, now = Date.now }: MembershipOptions = {},
): Membership {
  // Both levels are in least-recently-used-first order: a use moves an entry to the end.
  const byConversation = new Map<string, Map<string, Answer>>();
  let size = 0;
  // Bumped by every invalidation: a read under way across one may predate a membership change.
  let invalidations = 0;

  const forget = (conversationId: string, userId: string) => {
    const users = byConversation.get(conversationId);
    if (!users?.delete(userId)) return;
    size--;
    if (users.size === 0) byConversation.delete(conversationId);
  };

  const put = (conversationId: string, userId: string, answer: Answer) => {
    let users = byConversation.get(conversationId);
    if (users) byConversation.delete(conversationId);
    else users = new Map();
    byConversation.set(conversationId, users);
    if (!users.delete(userId)) size++;
    users.set(userId, answer);
    while (size > max) {
      const [oldest, theirs] = byConversation.entries().next().value!;
      forget(oldest, theirs.keys().next().value!);
    }
  };

  const read = (conversationId: string, userId: string): Promise<boolean> => {
    const seen = invalidations;
    const reading: Promise<boolean> = isMember(db, conversationId, userId).then(
      (member) => {
        if (byConversation.get(conversationId)?.get(userId) === reading) {
          const expiresAt = now() + ttlMs;
          put(conversationId, userId, member ? expiresAt : -expiresAt);
          return member;
        }
        // Invalidated (or evicted) meanwhile, so not kept. After an invalidation (a membership
        // change raced this read) what was read may predate the change: ask again.
        return invalidations === seen ? member : check(conversationId, userId);
      },
      (e: unknown) => {
        if (byConversation.get(conversationId)?.get(userId) === reading) forget(conversationId, userId);
        throw e;
      },
    );
    put(conversationId, userId, reading);
    return reading;
  };

  const check = async (conversationId: string, userId: string): Promise<boolean> => {
    const answer = byConversation.get(conversationId)?.get(userId);
    if (answer === undefined) return read(conversationId, userId);
    if (typeof answer !== "number") return answer;
    if (Math.abs(answer) <= now()) return read(conversationId, userId);
    put(conversationId, userId, answer);
    return answer > 0;
  };

  return {
    isMember: check,
    invalidate(conversationId, userId) {
      invalidations++;
      if (userId !== undefined) {
        forget(conversationId, userId);
        return;
      }
      const users = byConversation.get(conversationId);
      if (!users) return;
      size -= users.size;
      byConversation.delete(conversationId);
    },
  };
}
