/**
 * @module
 * A socket's joined channels by topic. Nearly every socket has exactly one, and a Map with its
 * hash table costs a few hundred bytes per socket: the table is the entry itself while there is
 * one, and a Map only from the second on. It is a value the session keeps in one field (every
 * change returns the new table), not an object of its own: idle sockets are the memory bill.
 */
import type { ChannelEntry } from "./channel-entry.js";

export type ChannelTable = ChannelEntry | Map<string, ChannelEntry> | undefined;

export function channelCount(t: ChannelTable): number {
  return t instanceof Map ? t.size : t ? 1 : 0;
}

export function getChannel(t: ChannelTable, topic: string): ChannelEntry | undefined {
  if (t instanceof Map) return t.get(topic);
  return t?.topic === topic ? t : undefined;
}

/** Adds or replaces the channel on `topic`. */
export function setChannel(t: ChannelTable, topic: string, entry: ChannelEntry): ChannelTable {
  if (t instanceof Map) return t.set(topic, entry);
  if (!t || t.topic === topic) return entry;
  return new Map([
    [t.topic, t],
    [topic, entry],
  ]);
}

export function deleteChannel(t: ChannelTable, topic: string): ChannelTable {
  if (t instanceof Map) {
    t.delete(topic);
    return t.size === 0 ? undefined : t;
  }
  return t?.topic === topic ? undefined : t;
}

/** A copy: callers may end (and so delete) channels while iterating. */
export function channelList(t: ChannelTable): ChannelEntry[] {
  if (t instanceof Map) return [...t.values()];
  return t ? [t] : [];
}
