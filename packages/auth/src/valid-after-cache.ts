/**
 * @module The per-user "valid after" time of sign-out-everywhere (DESIGN §4.6), cached so that
 * verifying an access token does not cost a Postgres read per connect or request.
 *
 * Freshness: an entry lives `ttlMs`, so a node that misses the bus event still refuses old tokens
 * after at most `ttlMs`. The node that signs a user out calls `set` itself, and every node calls
 * `set` (or `invalidate`) when the bus event arrives, so in practice revocation is immediate.
 * "Never signed out" (undefined) is cached too: it is the common case and must not hit the DB.
 */

export interface ValidAfterCacheOptions {
  /** Reads the user's valid-after time (epoch ms) from the source of truth; undefined = none. */
  load: (userId: string) => Promise<number | undefined>;
  ttlMs: number;
  /** Entries kept at most; the least recently used one goes first. */
  max: number;
  /** Clock in epoch ms; tests inject one instead of sleeping. */
  now?: () => number;
}

export interface ValidAfterCache {
  /** A plain function (no `this`), so `validAfter: cache.get` can be passed as is. Rejects when load does. */
  get: (userId: string) => Promise<number | undefined>;
  /** From a sign-out (local or bus event). Never lowers a cached value: events may arrive out of order. */
  set: (userId: string, validAfterMs: number) => void;
  /** Forget the user: the next get reads the source again. */
  invalidate: (userId: string) => void;
  clear: () => void;
  readonly size: number;
}

/**
 * A cached answer. Nearly every user never signed out, and the cache holds one answer per
 * connected user: for them the entry is just its expiry time (no object); a valid-after time
 * comes with its expiry.
 */
type Entry = number | { value: number; expiresAt: number };

const expiryOf = (e: Entry) => (typeof e === "number" ? e : e.expiresAt);
const cachedValue = (e: Entry) => (typeof e === "number" ? undefined : e.value);

export function createValidAfterCache(options: ValidAfterCacheOptions): ValidAfterCache {
  const { load, ttlMs, max, now = Date.now } = options;
  if (!Number.isFinite(ttlMs) || ttlMs < 0) throw new TypeError(`createValidAfterCache: bad ttlMs ${ttlMs}`);
  if (!Number.isInteger(max) || max < 1) throw new TypeError(`createValidAfterCache: bad max ${max}`);

  // Map iteration order is insertion order: re-inserting on a hit makes the first key the LRU one.
  const entries = new Map<string, Entry>();
  // One load per user at a time: a user's devices reconnecting together after a gateway dies would
  // otherwise each read the same row.
  const inflight = new Map<string, Promise<number | undefined>>();

  function store(userId: string, value: number | undefined): void {
    entries.delete(userId);
    const expiresAt = now() + ttlMs;
    entries.set(userId, value === undefined ? expiresAt : { value, expiresAt });
    if (entries.size > max) {
      const oldest = entries.keys().next();
      if (oldest.done !== true) entries.delete(oldest.value);
    }
  }

  function fresh(userId: string): Entry | undefined {
    const entry = entries.get(userId);
    if (entry === undefined) return undefined;
    if (expiryOf(entry) <= now()) {
      entries.delete(userId);
      return undefined;
    }
    return entry;
  }

  function get(rawUserId: string): Promise<number | undefined> {
    const userId = rawUserId.toLowerCase();
    const hit = fresh(userId);
    if (hit !== undefined) {
      entries.delete(userId);
      entries.set(userId, hit);
      return Promise.resolve(cachedValue(hit));
    }
    const pending = inflight.get(userId);
    if (pending !== undefined) return pending;
    const loading = load(userId).then(
      (value) => {
        // The race: a sign-out event may have arrived (set/invalidate) while this read was in
        // flight, and the row we read may predate it. Only a load still current may fill the cache;
        // a superseded one answers with what set stored, or reads again after an invalidate.
        if (inflight.get(userId) !== loading) {
          const current = fresh(userId);
          return current !== undefined ? cachedValue(current) : get(userId);
        }
        inflight.delete(userId);
        store(userId, value);
        return value;
      },
      (error: unknown) => {
        if (inflight.get(userId) === loading) inflight.delete(userId);
        throw error;
      },
    );
    inflight.set(userId, loading);
    return loading;
  }

  function set(rawUserId: string, validAfterMs: number): void {
    if (!Number.isFinite(validAfterMs)) throw new TypeError(`ValidAfterCache.set: bad time ${validAfterMs}`);
    const userId = rawUserId.toLowerCase();
    inflight.delete(userId);
    const cached = fresh(userId);
    const current = cached === undefined ? undefined : cachedValue(cached);
    store(userId, current === undefined ? validAfterMs : Math.max(current, validAfterMs));
  }

  function invalidate(rawUserId: string): void {
    const userId = rawUserId.toLowerCase();
    inflight.delete(userId);
    entries.delete(userId);
  }

  function clear(): void {
    inflight.clear();
    entries.clear();
  }

  return {
    get,
    set,
    invalidate,
    clear,
    get size() {
      return entries.size;
    },
  };
}
