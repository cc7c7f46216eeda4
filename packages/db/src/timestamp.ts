/**
 * @module
 * Timestamps cross the driver as Postgres text and leave it as ISO 8601 with microseconds
 * (`2026-01-11T20:05:50.055142Z`, seed 004's format). A JS Date would drop the microseconds,
 * and a keyset cursor that loses precision skips rows, so we never go through Date.
 */
import { customType } from "drizzle-orm/pg-core";

const PG_TS =
  /^(\d{4,}-\d{2}-\d{2})[ T](\d{2}:\d{2}:\d{2})(?:\.(\d{1,6}))?([+-]\d{2})(?::?(\d{2}))?(?::?(\d{2}))?$/;

/** Postgres timestamptz text (any session TimeZone) → `YYYY-MM-DDTHH:MM:SS.ffffffZ`. */
export function pgTimestampToIso(text: string): string {
  const m = PG_TS.exec(text);
  if (!m) {
    // Already ISO (e.g. a value we wrote ourselves and PGlite echoed) or infinity.
    return text;
  }
  const [, date, time, frac = "", oh = "+00", om = "00", os = "00"] = m;
  const micros = frac.padEnd(6, "0");
  if (oh === "+00" && om === "00" && os === "00") return `${date}T${time}.${micros}Z`;
  const sign = oh.startsWith("-") ? -1 : 1;
  const offsetMs = sign * ((Math.abs(Number(oh)) * 60 + Number(om)) * 60 + Number(os)) * 1000;
  const utc = new Date(Date.parse(`${date}T${time}Z`) - offsetMs).toISOString().slice(0, 19);
  return `${utc}.${micros}Z`;
}

/** timestamptz(6) read as an ISO string with microseconds, written from any string Postgres accepts. */
export const timestamptz = customType<{ data: string; driverData: string }>({
  dataType() {
    return "timestamp(6) with time zone";
  },
  fromDriver(value) {
    return pgTimestampToIso(String(value));
  },
});

/** Now (or `epochMicros`) as `2026-01-11T20:05:50.055142Z`: the format of every timestamp Nexus sends. */
export function isoMicros(
  epochMicros = Math.round((performance.timeOrigin + performance.now()) * 1000),
): string {
  const ms = Math.floor(epochMicros / 1000);
  return `${new Date(ms).toISOString().slice(0, 19)}.${String(epochMicros % 1_000_000).padStart(6, "0")}Z`;
}
