/** @module Free TCP ports on loopback. */
import { createServer } from "node:net";

/** A port that was free a moment ago. The caller binds it soon after; collisions are retried by callers that can. */
export function freePort(host = "127.0.0.1"): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.once("error", reject);
    srv.listen(0, host, () => {
      const addr = srv.address();
      const port = typeof addr === "object" && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}
