/**
 * @module
 * Opaque keyset page tokens. A token is `base64url(cursor JSON) "." base64url(MAC)`, where the
 * MAC (HMAC-SHA-256, 128 bits) covers the cursor AND the scope it was issued for (e.g.
 * "messages:<conversation>:<user>"). So a garbage token, an edited cursor, or a token from
 * another listing all fail the same way: a value the API turns into 422, never a 500.
 */
import { createHmac, timingSafeEqual } from "node:crypto";
import type { z } from "zod";

export type PageTokenResult<C> = { ok: true; cursor: C } | { ok: false; error: "invalid_page_token" };

export interface PageTokens {
  encode(scope: string, cursor: unknown): string;
  decode<C>(scope: string, token: string, schema: z.ZodType<C>): PageTokenResult<C>;
}

const MAC_BYTES = 16;
const MAX_TOKEN_CHARS = 1024;

export function createPageTokens(key: string | Uint8Array): PageTokens {
  if (key.length < 16) throw new Error("page-token key must be at least 16 bytes");
  const mac = (scope: string, body: string) =>
    createHmac("sha256", key).update(scope).update("\n").update(body).digest().subarray(0, MAC_BYTES);

  return {
    encode(scope, cursor) {
      const body = Buffer.from(JSON.stringify(cursor)).toString("base64url");
      return `${body}.${mac(scope, body).toString("base64url")}`;
    },
    decode(scope, token, schema) {
      const invalid = { ok: false, error: "invalid_page_token" } as const;
      if (typeof token !== "string" || token.length > MAX_TOKEN_CHARS) return invalid;
      const dot = token.indexOf(".");
      if (dot <= 0) return invalid;
      const body = token.slice(0, dot);
      const given = Buffer.from(token.slice(dot + 1), "base64url");
      const expected = mac(scope, body);
      if (given.length !== expected.length || !timingSafeEqual(given, expected)) return invalid;
      let json: unknown;
      try {
        json = JSON.parse(Buffer.from(body, "base64url").toString("utf8"));
      } catch {
        return invalid;
      }
      const parsed = schema.safeParse(json);
      return parsed.success ? { ok: true, cursor: parsed.data } : invalid;
    },
  };
}

/** Page sizes every listing accepts: documented in the API as default 50, at most 100. */
export const PAGE_SIZE_DEFAULT = 50;
export const PAGE_SIZE_MAX = 100;

/**
 * Queries fetch `pageSize + 1` rows; the extra row only says whether another page exists.
 * The cursor is taken from the last row actually returned.
 */
export function toPage<T, C>(
  rows: T[],
  pageSize: number,
  cursorOf: (last: T) => C,
  encode: (cursor: C) => string,
): { items: T[]; pageToken: string | null } {
  if (rows.length <= pageSize) return { items: rows, pageToken: null };
  const items = rows.slice(0, pageSize);
  return { items, pageToken: encode(cursorOf(items[items.length - 1]!)) };
}
