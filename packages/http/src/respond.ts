/**
 * @module
 * Writing responses safely from async handlers. uWS forbids touching a response after the
 * client aborted, and wants every write of one response corked together.
 */
import type { HttpResponse } from "./uws.js";

const STATUS_TEXT: Record<number, string> = {
  200: "200 OK",
  201: "201 Created",
  204: "204 No Content",
  400: "400 Bad Request",
  401: "401 Unauthorized",
  403: "403 Forbidden",
  404: "404 Not Found",
  405: "405 Method Not Allowed",
  409: "409 Conflict",
  413: "413 Payload Too Large",
  422: "422 Unprocessable Entity",
  429: "429 Too Many Requests",
  500: "500 Internal Server Error",
  503: "503 Service Unavailable",
};

export function statusLine(code: number): string {
  return STATUS_TEXT[code] ?? String(code);
}

/**
 * Tracks abortion for one request. Call right away in the handler (before any await), then
 * use `send` whenever the answer is ready; it is a no-op if the client has gone.
 */
export function guard(res: HttpResponse): {
  aborted(): boolean;
  send(status: number, body?: unknown, headers?: Record<string, string>): void;
} {
  let aborted = false;
  res.onAborted(() => {
    aborted = true;
  });
  return {
    aborted: () => aborted,
    send(status, body, headers = {}) {
      if (aborted) return;
      res.cork(() => {
        res.writeStatus(statusLine(status));
        for (const [k, v] of Object.entries(headers)) res.writeHeader(k, v);
        if (body === undefined || status === 204) {
          res.end();
        } else {
          res.writeHeader("content-type", "application/json; charset=utf-8");
          res.end(JSON.stringify(body));
        }
      });
    },
  };
}
