/** @module Tests: vsn negotiation against Elixir Version semantics. */
import { describe, expect, it } from "vitest";
import { negotiateSerializer } from "./negotiate.js";

describe("negotiateSerializer (Elixir `~> 1.0.0` / `~> 2.0.0`)", () => {
  const table: [unknown, "1.0.0" | "2.0.0" | null][] = [
    [undefined, "1.0.0"],
    ["1.0.0", "1.0.0"],
    ["1.0.9", "1.0.0"],
    ["1.0.1-rc.1", "1.0.0"],
    ["1.0.0+build.7", "1.0.0"],
    ["2.0.0", "2.0.0"],
    ["2.0.7", "2.0.0"],
    ["2.0.123456789012345678901234567890", "2.0.0"],
    ["2.0.1-alpha", "2.0.0"],
    ["2.0.1-rc-1.0", "2.0.0"],
    ["2.0.0+20240101", "2.0.0"],
    ["2.0.0-rc.1+b", null], // a pre-release of 2.0.0 sorts below 2.0.0
    ["2.0.0-rc", null],
    ["1.0.0-dev", null],
    ["2.1.0", null],
    ["2.1.0-0", null],
    ["1.1.0", null],
    ["3.0.0", null],
    ["0.0.1", null],
    ["123.1.1", null], // PROTOCOL.md §8 test 2
    ["2", null],
    ["2.0", null],
    ["2.0.0.0", null],
    ["02.0.0", null],
    ["2.00.0", null],
    ["2.0.01", null],
    ["2.0.1-01", null], // numeric pre-release identifiers have no leading zeros
    ["2.0.1-", null],
    ["2.0.1-a..b", null],
    ["2.0.1-a_b", null],
    ["2.0.0+", null],
    [" 2.0.0", null],
    ["2.0.0 ", null],
    ["v2.0.0", null],
    ["２.0.0", null],
    ["", null],
    [null, null],
    [2, null],
    [["2.0.0"], null],
    [{}, null],
  ];
  it.each(table)("%j → %s", (vsn, expected) => {
    expect(negotiateSerializer(vsn)?.vsn ?? null).toBe(expected);
  });
});
