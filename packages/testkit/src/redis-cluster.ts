/**
 * @module
 * A throwaway Redis Cluster of masters (no replicas) from the machine's redis-server: one
 * process per master on free ports, each in its own temp dir, slots split evenly, joined with
 * CLUSTER MEET (what `redis-cli --cluster create` does, without its one-second polls). A node
 * killed and started again on its port reads its nodes.conf and rejoins as the same master with
 * the same slots.
 */
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "./ports.js";
import { type RedisProcess, redisProcess } from "./redis-server.js";
import { waitFor } from "./wait.js";

const SLOTS = 16_384;

export interface RedisClusterNode extends RedisProcess {
  port: number;
  url: string;
  /** The hash slots it serves, first and last (inclusive). */
  slots: readonly [number, number];
}

export interface RedisCluster {
  /** The first master: what REDIS_URL names with REDIS_CLUSTER=true. */
  url: string;
  nodes: RedisClusterNode[];
  /** Resolves once every node reports cluster_state:ok, every slot served and every node known. */
  healthy(timeoutMs?: number): Promise<void>;
  /** Kills every node; removes the temp dirs. */
  stop(): Promise<void>;
}

/**
 * One command over a raw socket, its reply as text (simple, bulk or integer; an error reply
 * rejects). No client library: the harness must not depend on the client under test.
 */
export function redisCommand(port: number, ...args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = connect(port, "127.0.0.1");
    let buf = Buffer.alloc(0);
    const done = (err: Error | undefined, reply?: string) => {
      sock.destroy();
      if (err) reject(err);
      else resolve(reply!);
    };
    sock.setTimeout(5_000, () => done(new Error(`redis :${port} did not answer ${args[0]}`)));
    sock.once("error", (err) => done(err));
    sock.once("connect", () => {
      const parts = args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`);
      sock.write(`*${args.length}\r\n${parts.join("")}`);
    });
    sock.on("data", (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      const eol = buf.indexOf("\r\n");
      if (eol === -1) return;
      const line = buf.subarray(1, eol).toString();
      const kind = String.fromCharCode(buf[0]!);
      if (kind === "-") return done(new Error(`redis :${port} ${args.join(" ")}: ${line}`));
      if (kind !== "$") return done(undefined, line);
      const len = Number(line);
      if (len < 0) return done(undefined, "");
      if (buf.length >= eol + 2 + len) done(undefined, buf.subarray(eol + 2, eol + 2 + len).toString());
    });
  });
}

/** Two distinct free ports: the client port and the cluster bus port of one node. */
async function portPair(taken: Set<number>): Promise<[number, number]> {
  const pick = async () => {
    for (;;) {
      const p = await freePort();
      if (!taken.has(p)) {
        taken.add(p);
        return p;
      }
    }
  };
  return [await pick(), await pick()];
}

export async function startRedisCluster({
  masters = 3,
  nodeTimeoutMs = 5_000,
}: {
  masters?: number;
  /** cluster-node-timeout: how long a silent master stays up in its peers' view (a quick restart stays under it). */
  nodeTimeoutMs?: number;
} = {}): Promise<RedisCluster> {
  const root = mkdtempSync(join(tmpdir(), "nexus-redis-cluster-"));
  const nodes: Array<RedisClusterNode & { busPort: number }> = [];
  const stop = async () => {
    await Promise.all(nodes.map((n) => n.kill()));
    rmSync(root, { recursive: true, force: true });
  };
  const healthy = async (timeoutMs = 30_000) => {
    await waitFor(
      async () => {
        const infos = await Promise.all(nodes.map((n) => redisCommand(n.port, "CLUSTER", "INFO")));
        return infos.every(
          (info) =>
            info.includes("cluster_state:ok") &&
            info.includes(`cluster_slots_ok:${SLOTS}`) &&
            info.includes(`cluster_known_nodes:${nodes.length}`),
        );
      },
      { what: `redis cluster of ${nodes.length} to be ok`, timeoutMs, intervalMs: 50 },
    );
  };
  try {
    const taken = new Set<number>();
    const per = Math.ceil(SLOTS / masters);
    for (let i = 0; i < masters; i++) {
      const [port, busPort] = await portPair(taken);
      const dir = join(root, String(port));
      mkdirSync(dir);
      const proc = redisProcess(port, dir, [
        "--cluster-enabled",
        "yes",
        "--cluster-config-file",
        "nodes.conf",
        "--cluster-port",
        String(busPort),
        "--cluster-node-timeout",
        String(nodeTimeoutMs),
      ]);
      const slots = [i * per, Math.min(SLOTS, (i + 1) * per) - 1] as const;
      nodes.push({ ...proc, port, busPort, url: `redis://127.0.0.1:${port}`, slots });
    }
    await Promise.all(nodes.map((n) => n.start()));
    await Promise.all(
      nodes.map(async (n, i) => {
        await redisCommand(n.port, "CLUSTER", "ADDSLOTSRANGE", String(n.slots[0]), String(n.slots[1]));
        // Distinct epochs from the start: no collision for the nodes to resolve before agreeing.
        await redisCommand(n.port, "CLUSTER", "SET-CONFIG-EPOCH", String(i + 1));
      }),
    );
    const [first, ...rest] = nodes;
    for (const n of rest) {
      await redisCommand(first!.port, "CLUSTER", "MEET", "127.0.0.1", String(n.port), String(n.busPort));
    }
    await healthy();
  } catch (e) {
    await stop();
    throw e;
  }
  return {
    url: nodes[0]!.url,
    nodes: nodes.map(({ busPort: _, ...n }) => n),
    healthy,
    stop,
  };
}
