/**
 * @module
 * In-order delivery of a topic's numbered broadcasts on one node, whichever node they come from.
 *
 * Postgres hands out a conversation's seqs under a row lock, so the committed seqs have no
 * holes: if seq n+1 exists, seq n was committed first. Redis, though, delivers in the order
 * nodes PUBLISHed, and two senders' publishes can overtake each other (or one can be lost:
 * pub/sub is at-most-once). So a broadcast arriving ahead of a gap waits, briefly; if the gap
 * is still open after `gapTimeoutMs`, the missing messages are read from Postgres, the source
 * of truth, and delivered in place. Nothing is dropped to keep the order, and nothing is
 * delivered twice: a seq below the next expected one has been delivered already.
 *
 * Pure but for the injected timer and loader; one instance per node, state per topic.
 */

export interface SeqOrdererOptions<T> {
  gapTimeoutMs: number;
  deliver(topic: string, item: T): void;
  /** The items for seqs [from, to] of `topic` that exist (deleted ones may be missing). */
  fillGap(topic: string, from: number, to: number): Promise<Array<{ seq: number; item: T }>>;
  setTimer?: (fn: () => void, ms: number) => { cancel(): void };
  onGap?: (topic: string, from: number, to: number, filled: number) => void;
  onError?: (e: unknown) => void;
}

interface TopicState<T> {
  /** The next seq to deliver; undefined until the first numbered broadcast of this topic arrives. */
  next: number | undefined;
  waiting: Map<number, T>;
  /** Unnumbered items that arrived while seq n was waiting: delivered right after it. */
  trailing?: Map<number, T[]>;
  timer: { cancel(): void } | undefined;
  filling: boolean;
}

const defaultTimer = (fn: () => void, ms: number) => {
  const t = setTimeout(fn, ms);
  return { cancel: () => clearTimeout(t) };
};

export class SeqOrderer<T> {
  #topics = new Map<string, TopicState<T>>();
  readonly #o: SeqOrdererOptions<T> & { setTimer: NonNullable<SeqOrdererOptions<T>["setTimer"]> };

  constructor(options: SeqOrdererOptions<T>) {
    this.#o = { setTimer: defaultTimer, ...options };
  }

  offer(topic: string, seq: number, item: T): void {
    let s = this.#topics.get(topic);
    if (!s) {
      s = { next: undefined, waiting: new Map(), timer: undefined, filling: false };
      this.#topics.set(topic, s);
    }
    // The first broadcast a node sees for a topic sets its baseline: members joined just now
    // and read anything older through the history API.
    if (s.next === undefined) s.next = seq;
    if (seq < s.next || s.waiting.has(seq)) return; // delivered already (or a duplicate)
    if (seq === s.next && !s.filling) {
      this.#o.deliver(topic, item);
      s.next++;
      this.#drain(topic, s);
      return;
    }
    s.waiting.set(seq, item);
    if (!s.timer && !s.filling) this.#arm(topic, s);
  }

  /**
   * An unnumbered item (an edit or deletion of a message): delivered after every numbered one
   * offered before it. Without this, an edit could overtake the very message it edits while that
   * message waits behind a gap, and the client would apply the edit first and then the original.
   */
  after(topic: string, item: T): void {
    const s = this.#topics.get(topic);
    if (!s || s.waiting.size === 0) {
      this.#o.deliver(topic, item);
      return;
    }
    const last = Math.max(...s.waiting.keys());
    s.trailing ??= new Map();
    const list = s.trailing.get(last);
    if (list) list.push(item);
    else s.trailing.set(last, [item]);
  }

  #deliverAt(topic: string, s: TopicState<T>, seq: number, item: T): void {
    this.#o.deliver(topic, item);
    const trailing = s.trailing?.get(seq);
    if (!trailing) return;
    s.trailing!.delete(seq);
    for (const t of trailing) this.#o.deliver(topic, t);
  }

  #arm(topic: string, s: TopicState<T>): void {
    const timer = this.#o.setTimer(() => {
      // A timer cancelled after it was queued still fires on some clocks: only the current one counts.
      if (s.timer !== timer) return;
      s.timer = undefined;
      void this.#fill(topic, s);
    }, this.#o.gapTimeoutMs);
    s.timer = timer;
  }

  /**
   * Sets where a topic starts: the seq after the last one committed before this node subscribed.
   * Without it the first broadcast seen would set the start, and an earlier seq arriving later
   * (or never, lost on the bus) would be skipped for good.
   */
  start(topic: string, next: number): void {
    const s = this.#topics.get(topic);
    if (!s) this.#topics.set(topic, { next, waiting: new Map(), timer: undefined, filling: false });
    else if (s.next === undefined) s.next = next;
  }

  /** Forget a topic (no local members left): a later subscription starts a new baseline. */
  forget(topic: string): void {
    const s = this.#topics.get(topic);
    s?.timer?.cancel();
    this.#topics.delete(topic);
  }

  get size(): number {
    return this.#topics.size;
  }

  #drain(topic: string, s: TopicState<T>): void {
    for (let item = s.waiting.get(s.next!); item !== undefined; item = s.waiting.get(s.next!)) {
      s.waiting.delete(s.next!);
      this.#deliverAt(topic, s, s.next!, item);
      s.next!++;
    }
    if (s.waiting.size === 0 && s.timer) {
      s.timer.cancel();
      s.timer = undefined;
    }
  }

  async #fill(topic: string, s: TopicState<T>): Promise<void> {
    if (s.filling || s.waiting.size === 0 || this.#topics.get(topic) !== s) return;
    const from = s.next!;
    const to = Math.min(...s.waiting.keys()) - 1;
    s.filling = true;
    let found: Array<{ seq: number; item: T }> = [];
    try {
      found = await this.#o.fillGap(topic, from, to);
    } catch (e) {
      this.#o.onError?.(e);
    }
    s.filling = false;
    if (this.#topics.get(topic) !== s) return;
    const bySeq = new Map(found.map((f) => [f.seq, f.item]));
    this.#o.onGap?.(topic, from, to, bySeq.size);
    // Whatever the database had is delivered in place; a seq it did not have (deleted, or the
    // read failed) is skipped rather than holding the topic up for ever.
    for (let seq = from; seq <= to; seq++) {
      const item = bySeq.get(seq) ?? s.waiting.get(seq);
      s.waiting.delete(seq);
      if (item !== undefined) this.#deliverAt(topic, s, seq, item);
    }
    s.next = to + 1;
    this.#drain(topic, s);
    if (s.waiting.size > 0 && !s.timer) this.#arm(topic, s);
  }
}
