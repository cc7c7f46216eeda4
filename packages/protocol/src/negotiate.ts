/**
 * @module `vsn` → serializer, matching Phoenix's `[{V1, "~> 1.0.0"}, {V2, "~> 2.0.0"}]` with
 * Elixir's `Version.parse/1` and `Version.match?/2` semantics.
 */
import type { Serializer } from "./serializer.js";
import { v1JsonSerializer } from "./v1-json.js";
import { v2JsonSerializer } from "./v2-json.js";

/** The version a client gets when it sends no `vsn` (Phoenix: `params["vsn"] || "1.0.0"`). */
export const DEFAULT_VSN = "1.0.0";

// Elixir's grammar: MAJOR.MINOR.PATCH, no leading zeros; an optional pre-release of dot-separated
// [0-9A-Za-z-] identifiers (numeric ones without leading zeros); an optional build after "+".
const NUMBER = "(0|[1-9][0-9]*)";
const PRE_ID = "(?:0|[1-9][0-9]*|[0-9A-Za-z-]*[A-Za-z-][0-9A-Za-z-]*)";
const VERSION = new RegExp(
  `^${NUMBER}\\.${NUMBER}\\.${NUMBER}(?:-(${PRE_ID}(?:\\.${PRE_ID})*))?(?:\\+[0-9A-Za-z-]+(?:\\.[0-9A-Za-z-]+)*)?$`,
);

/**
 * Returns null for anything Phoenix refuses (the gateway answers HTTP 403, LongPoll `{"status":403}`):
 * non-strings, unparsable strings ("2", "2.0", " 2.0.0") and versions outside both requirements.
 * Only `undefined` means "absent": query parsers never yield null, so null is refused like any
 * other non-string.
 */
export function negotiateSerializer(vsn: unknown): Serializer | null {
  if (vsn === undefined) return v1JsonSerializer;
  if (typeof vsn !== "string") return null;
  const m = VERSION.exec(vsn);
  if (m === null) return null;
  const [, major, minor, patch, pre] = m;
  // `~> X.0.0` means `>= X.0.0 and < X.1.0-0`. Pre-releases sort below their release, and match?
  // allows them by default, so 2.0.1-rc matches but 2.0.0-rc does not.
  if (minor !== "0" || (patch === "0" && pre !== undefined)) return null;
  if (major === "1") return v1JsonSerializer;
  if (major === "2") return v2JsonSerializer;
  return null;
}
