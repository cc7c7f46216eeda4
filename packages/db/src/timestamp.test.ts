import { describe, expect, it } from "vitest";
import { pgTimestampToIso } from "./timestamp.js";

describe("pgTimestampToIso", () => {
  it.each([
    ["2026-01-11 20:05:50.055142+00", "2026-01-11T20:05:50.055142Z"],
    ["2026-01-11 20:05:50.05+00", "2026-01-11T20:05:50.050000Z"],
    ["2026-01-11 20:05:50+00", "2026-01-11T20:05:50.000000Z"],
    ["2026-01-11 22:05:50.000001+02", "2026-01-11T20:05:50.000001Z"],
    ["2026-01-11 14:35:50.5-05:30", "2026-01-11T20:05:50.500000Z"],
    ["2026-01-01 00:30:00+01", "2025-12-31T23:30:00.000000Z"],
    ["-infinity", "-infinity"],
  ])("%s → %s", (input, expected) => {
    expect(pgTimestampToIso(input)).toBe(expected);
  });
});
