/**
 * @module
 * A minimal TCP load balancer for fault tests. The phoenix client reconnects to the URL it was
 * given, so "clients of a dead node reconnect to a surviving one" needs something in front of
 * the nodes, as production has. Each connection goes to the first backend, in preference
 * order, that accepts a TCP connection: a killed node refuses, so its clients land on the next.
 */
import { connect, createServer, type Socket } from "node:net";

export interface Balancer {
  /** For the phoenix client (it appends `/websocket`). */
  socketUrl: string;
  close(): Promise<void>;
}

function dial(port: number): Promise<Socket | undefined> {
  return new Promise((resolve) => {
    const s = connect(port, "127.0.0.1");
    s.once("connect", () => resolve(s));
    s.once("error", () => resolve(undefined));
  });
}

export async function startBalancer(backendPorts: readonly number[]): Promise<Balancer> {
  const open = new Set<Socket>();
  const server = createServer((client) => {
    open.add(client);
    client.pause();
    client.on("error", () => {});
    client.once("close", () => open.delete(client));
    void (async () => {
      for (const port of backendPorts) {
        if (client.destroyed) return;
        const upstream = await dial(port);
        if (!upstream) continue;
        open.add(upstream);
        upstream.on("error", () => {});
        // A side that ends cleanly is ended on the other after its last bytes (pipe does that:
        // a draining node's close frames must arrive); one that dies takes the other with it.
        upstream.once("close", (hadError) => {
          open.delete(upstream);
          if (hadError) client.destroy();
          else client.end();
        });
        client.once("close", (hadError) => {
          if (hadError) upstream.destroy();
          else upstream.end();
        });
        client.pipe(upstream);
        upstream.pipe(client);
        client.resume();
        return;
      }
      client.destroy();
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  return {
    socketUrl: `ws://127.0.0.1:${port}/socket`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of open) s.destroy();
        server.close(() => resolve());
      }),
  };
}
