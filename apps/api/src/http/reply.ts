/**
 * @module
 * What a handler returns: a status, an optional JSON body and headers. Expected failures are
 * replies built here, never throws (a throw is a bug and becomes a logged 500). Error bodies
 * use the shapes Phoenix clients know: `{"errors": {"field": ["message"]}}` for validation
 * (Ecto changeset errors) and `{"errors": {"detail": "..."}}` for everything else (Phoenix's
 * ErrorJSON).
 */

export interface Reply {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

/** Field name → messages, as Ecto's `traverse_errors` renders a changeset. */
export type FieldErrors = Record<string, string[]>;

export const ok = (body: unknown): Reply => ({ status: 200, body });
export const created = (body: unknown): Reply => ({ status: 201, body });
export const noContent = (): Reply => ({ status: 204 });

const detail = (status: number, message: string, headers?: Record<string, string>): Reply => ({
  status,
  body: { errors: { detail: message } },
  ...(headers ? { headers } : {}),
});

export const badRequest = (message = "Bad Request") => detail(400, message);
export const unauthorized = (message = "Unauthorized") =>
  detail(401, message, { "www-authenticate": 'Bearer realm="nexus"' });
export const forbidden = (message = "Forbidden") => detail(403, message);
export const notFound = (message = "Not Found") => detail(404, message);
export const methodNotAllowed = () => detail(405, "Method Not Allowed");
export const payloadTooLarge = () => detail(413, "Payload Too Large");
export const internalError = () => detail(500, "Internal Server Error");
export const tooManyRequests = (retryAfterMs: number) =>
  detail(429, "Too Many Requests", { "retry-after": String(Math.max(1, Math.ceil(retryAfterMs / 1000))) });

export const unprocessable = (errors: FieldErrors): Reply => ({ status: 422, body: { errors } });
/** A field-shaped error with another status (409 "has already been taken"). */
export const conflict = (errors: FieldErrors): Reply => ({ status: 409, body: { errors } });

/** Merges several error maps, keeping every message once per field. */
export function mergeErrors(...maps: FieldErrors[]): FieldErrors {
  const out: FieldErrors = {};
  for (const m of maps) {
    for (const [field, messages] of Object.entries(m)) {
      const list = out[field] ?? [];
      for (const msg of messages) if (!list.includes(msg)) list.push(msg);
      out[field] = list;
    }
  }
  return out;
}
