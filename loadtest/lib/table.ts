/** @module Plain-text tables for the terminal: right-aligned numbers, a title line, no dependencies. */

export function formatTable(title: string, headers: string[], rows: Array<Array<string | number>>): string {
  const cells = [headers, ...rows.map((r) => r.map(String))];
  const widths = headers.map((_, c) => Math.max(...cells.map((r) => (r[c] ?? "").length)));
  const line = (r: string[]) =>
    r
      .map((v, c) => (c === r.length - 1 && !/^[\d.,+ -]+$/.test(v) ? v : v.padStart(widths[c]!)))
      .join("  ")
      .trimEnd();
  return [
    title,
    line(headers),
    widths.map((w) => "-".repeat(w)).join("  "),
    ...cells.slice(1).map(line),
  ].join("\n");
}

/** A target's verdict cell. */
export const pass = (ok: boolean) => (ok ? "PASS" : "MISS");
