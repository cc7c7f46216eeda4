/**
 * @module
 * Phoenix's `check_origin` with a list (PROTOCOL.md §1): an entry compares scheme, host and
 * port wherever it gives them; `//*.c.com` matches c.com and any subdomain (not x-c.com). A
 * request without an Origin header passes (non-browser clients send none); `null`, empty
 * and file:// origins are refused whenever the check is on.
 */

interface OriginPattern {
  scheme: string | undefined;
  host: string;
  wildcard: boolean;
  port: number | undefined;
}

const DEFAULT_PORTS: Record<string, number> = { http: 80, https: 443, ws: 80, wss: 443 };
const SHAPE = /^(?:([a-z][a-z0-9+.-]*):)?\/\/(\*\.)?([^/:?#]+)(?::(\d{1,5}))?\/?$/i;

export function parseOriginPattern(entry: string): OriginPattern {
  const m = SHAPE.exec(entry.trim());
  if (!m)
    throw new Error(
      `ALLOWED_ORIGINS entry ${JSON.stringify(entry)} is not like https://a.com, //b.com:888 or //*.c.com`,
    );
  const scheme = m[1]?.toLowerCase();
  const explicit = m[4] === undefined ? undefined : Number(m[4]);
  return {
    scheme,
    wildcard: m[2] !== undefined,
    host: m[3]!.toLowerCase(),
    // Like Elixir's URI.parse: a scheme implies its default port.
    port: explicit ?? (scheme ? DEFAULT_PORTS[scheme] : undefined),
  };
}

/** Compiles the allow-list once at boot (bad entries throw there); null = check disabled. */
export function createOriginCheck(allowed: readonly string[] | null): (origin: string) => boolean {
  if (allowed === null) return () => true;
  const patterns = allowed.map(parseOriginPattern);
  return (origin) => {
    if (origin === "") return true; // no Origin header
    let url: URL;
    try {
      url = new URL(origin);
    } catch {
      return false; // "null" and other junk
    }
    const scheme = url.protocol.slice(0, -1).toLowerCase();
    if (scheme === "file" || !url.hostname) return false;
    const host = url.hostname.toLowerCase();
    const port = url.port === "" ? DEFAULT_PORTS[scheme] : Number(url.port);
    return patterns.some(
      (p) =>
        (p.scheme === undefined || p.scheme === scheme) &&
        (p.port === undefined || p.port === port) &&
        (p.wildcard ? host === p.host || host.endsWith(`.${p.host}`) : host === p.host),
    );
  };
}
