/** @module Listening on a port (0 = any free port) and closing again. */
import { type TemplatedApp, uWS } from "./uws.js";

export interface Listening {
  port: number;
  /** Stops accepting connections; open sockets stay until closed by their owners. */
  close(): void;
}

export function listen(app: TemplatedApp, host: string, port: number): Promise<Listening> {
  return new Promise((resolve, reject) => {
    app.listen(host, port, (token) => {
      if (!token) {
        reject(new Error(`could not listen on ${host}:${port} (port in use or not permitted)`));
        return;
      }
      let open = true;
      resolve({
        port: uWS.us_socket_local_port(token),
        close() {
          if (open) uWS.us_listen_socket_close(token);
          open = false;
        },
      });
    });
  });
}
