/**
 * @module Nexus topic names. Topics are compared as exact strings (a broadcast reaches sockets
 * joined to that very string), so build them here rather than by hand.
 */

export type Topic =
  | { kind: "chat"; id: string }
  | { kind: "conversation"; id: string }
  | { kind: "user"; id: string }
  | { kind: "system"; name: "general" };

export const SYSTEM_GENERAL_TOPIC = "system:general";

const UUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

/** 8-4-4-4-12 hex digits, either case; no braces, no "urn:uuid:", no version check. */
export function isUuid(s: string): boolean {
  return s.length === 36 && UUID.test(s);
}

/**
 * Null for anything that is not one of our topics. The id is returned as written: Postgres
 * compares uuids case-insensitively, but the topic string the client joined is what frames carry.
 */
export function parseTopic(topic: string): Topic | null {
  if (topic === SYSTEM_GENERAL_TOPIC) return { kind: "system", name: "general" };
  const colon = topic.indexOf(":");
  if (colon < 0) return null;
  const id = topic.slice(colon + 1);
  if (!isUuid(id)) return null;
  switch (topic.slice(0, colon)) {
    case "chat":
      return { kind: "chat", id };
    case "conversation":
      return { kind: "conversation", id };
    case "user":
      return { kind: "user", id };
    default:
      return null;
  }
}

export function chatTopic(id: string): string {
  return `chat:${checkId(id)}`;
}

export function conversationTopic(id: string): string {
  return `conversation:${checkId(id)}`;
}

export function userTopic(id: string): string {
  return `user:${checkId(id)}`;
}

export function formatTopic(topic: Topic): string {
  return topic.kind === "system" ? SYSTEM_GENERAL_TOPIC : `${topic.kind}:${checkId(topic.id)}`;
}

// Building a topic from a non-UUID is a bug in our own code (ids come from the database), so throw.
function checkId(id: string): string {
  if (!isUuid(id)) throw new TypeError(`topic id must be a UUID, got ${JSON.stringify(id)}`);
  return id;
}
