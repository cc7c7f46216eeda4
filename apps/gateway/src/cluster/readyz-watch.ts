/**
 * @module
 * Polls GET /readyz back to back over ONE keep-alive connection. A draining gateway closes its
 * listen socket at once, so a fresh probe only sees "connection refused"; a connection opened
 * before the SIGTERM is the one place its 503 can still be read.
 */
import { connect } from "node:net";

export interface ReadyzWatch {
  /** Every status answered, in order. */
  readonly statuses: number[];
  /** Resolves once the connection has closed (the process exited or closed it). */
  readonly closed: Promise<void>;
  stop(): void;
}

const REQUEST = "GET /readyz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: keep-alive\r\n\r\n";

export function watchReadyz(port: number): Promise<ReadyzWatch> {
  const statuses: number[] = [];
  const sock = connect(port, "127.0.0.1");
  let buf = Buffer.alloc(0);
  sock.on("data", (chunk) => {
    buf = Buffer.concat([buf, chunk]);
    for (;;) {
      const end = buf.indexOf("\r\n\r\n");
      if (end < 0) return;
      const head = buf.subarray(0, end).toString("latin1");
      const length = Number(/content-length:\s*(\d+)/i.exec(head)?.[1] ?? 0);
      if (buf.length < end + 4 + length) return;
      statuses.push(Number(head.slice(9, 12)));
      buf = buf.subarray(end + 4 + length);
      sock.write(REQUEST); // the next probe as soon as this one is answered
    }
  });
  sock.on("error", () => {});
  const closed = new Promise<void>((resolve) => sock.once("close", () => resolve()));
  return new Promise((resolve, reject) => {
    sock.once("error", reject);
    sock.once("connect", () => {
      sock.write(REQUEST);
      resolve({ statuses, closed, stop: () => sock.destroy() });
    });
  });
}
