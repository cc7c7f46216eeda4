/** @module Tests: Topic parsing and building. */
import { describe, expect, it } from "vitest";
import { chatTopic, conversationTopic, formatTopic, isUuid, parseTopic, userTopic } from "./topics.js";

const id = "0b5c2f0e-8d1a-4c55-9e3b-2f6a7d9c1e00";
const upper = id.toUpperCase();

describe("topics", () => {
  it("parses our topics and nothing else", () => {
    expect(parseTopic(`chat:${id}`)).toEqual({ kind: "chat", id });
    expect(parseTopic(`conversation:${upper}`)).toEqual({ kind: "conversation", id: upper });
    expect(parseTopic(`user:${id}`)).toEqual({ kind: "user", id });
    expect(parseTopic("system:general")).toEqual({ kind: "system", name: "general" });
    for (const t of [
      "system:other",
      "room:lobby",
      `room:${id}`,
      `chat:${id}:x`,
      `chat:{${id}}`,
      `chat:${id.replaceAll("-", "")}`,
      `chat:${id.slice(0, -1)}g`,
      `chat: ${id}`,
      "chat:",
      "",
      "phoenix",
      `user:urn:uuid:${id}`,
    ]) {
      expect(parseTopic(t), t).toBeNull();
    }
  });

  it("builds topics and refuses non-UUID ids", () => {
    expect(chatTopic(id)).toBe(`chat:${id}`);
    expect(conversationTopic(id)).toBe(`conversation:${id}`);
    expect(userTopic(id)).toBe(`user:${id}`);
    expect(formatTopic({ kind: "system", name: "general" })).toBe("system:general");
    expect(formatTopic({ kind: "user", id })).toBe(`user:${id}`);
    expect(() => chatTopic("42")).toThrow(TypeError);
    expect(() => formatTopic({ kind: "chat", id: "x" })).toThrow(TypeError);
  });

  it("round-trips parse ∘ format", () => {
    for (const t of [`chat:${id}`, `conversation:${id}`, `user:${upper}`, "system:general"]) {
      const p = parseTopic(t);
      expect(p && formatTopic(p)).toBe(t);
    }
  });

  it("checks UUIDs strictly", () => {
    expect(isUuid(id)).toBe(true);
    expect(isUuid(upper)).toBe(true);
    expect(isUuid(`${id}\n`)).toBe(false);
    expect(isUuid(`x${id.slice(1)}`)).toBe(false);
  });
});
