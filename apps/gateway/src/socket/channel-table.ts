/**
 * @module
 * A socket's joined channels by topic. Nearly every socket has exactly one, and a Map with its
 * hash table costs a few hundred bytes per socket: the first channel sits in a slot, and a Map
 * appears only with the second.
 */
import type { ChannelEntry } from "./channel-entry.js";

export class ChannelTable {
  #one: ChannelEntry | undefined;
  #many: Map<string, ChannelEntry> | undefined;

  get size(): number {
    return this.#many ? this.#many.size : this.#one ? 1 : 0;
  }

  get(topic: string): ChannelEntry | undefined {
    if (this.#many) return this.#many.get(topic);
    return this.#one?.topic === topic ? this.#one : undefined;
  }

  has(topic: string): boolean {
    return this.get(topic) !== undefined;
  }

  set(topic: string, entry: ChannelEntry): void {
    if (this.#many) {
      this.#many.set(topic, entry);
    } else if (!this.#one || this.#one.topic === topic) {
      this.#one = entry;
    } else {
      this.#many = new Map([
        [this.#one.topic, this.#one],
        [topic, entry],
      ]);
      this.#one = undefined;
    }
  }

  delete(topic: string): void {
    if (this.#many) {
      this.#many.delete(topic);
      if (this.#many.size === 0) this.#many = undefined;
    } else if (this.#one?.topic === topic) {
      this.#one = undefined;
    }
  }

  /** A copy: callers may end (and so delete) channels while iterating. */
  values(): ChannelEntry[] {
    if (this.#many) return [...this.#many.values()];
    return this.#one ? [this.#one] : [];
  }

  clear(): void {
    this.#one = undefined;
    this.#many = undefined;
  }
}
