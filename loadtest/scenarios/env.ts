/**
 * @module
 * What every scenario runs with (the config, the servers, the seeded population, the client
 * workers), and who connects where.
 */
import type { Gateway, GatewaySpawn } from "../lib/gateways.js";
import type { ConnSpec } from "../lib/ipc.js";
import { mintToken } from "../lib/jwt.js";
import { log } from "../lib/log.js";
import type { Config } from "../lib/options.js";
import { memberIndexOf, type Population, roomOf } from "../lib/seed.js";
import type { Workers } from "../lib/workers.js";

export interface Env {
  cfg: Config;
  databaseUrl: string;
  redisUrl: string | undefined;
  /** The shared population (presence seeds its own). */
  pop: Population;
  workers: Workers;
  gateways: GatewaySpawn;
  jwtSecret: string;
  /** Where heap snapshots go, named after the run's `stamp` like its results file. */
  resultsDir: string;
  stamp: string;
}

let ipRotation = 0;
/**
 * The source address offset of the next phase: rotated between phases so that ports a previous
 * phase left in TIME_WAIT are not needed again soon.
 */
export const nextIpRotation = () => ipRotation++;

export const sourceAddress = (env: Env, i: number, rot: number) =>
  `127.0.0.${2 + ((i + rot) % env.cfg.sourceIps)}`;

/**
 * Specs for users `indices`, one list per worker. Node: by member index, so every room has half its
 * members on each of 2 nodes.
 */
export function plan(env: Env, indices: number[], gws: Gateway[]): ConnSpec[][] {
  const { pop } = env;
  const shares: ConnSpec[][] = Array.from({ length: env.workers.size }, () => []);
  const rooms = pop.roomIds.length;
  const rot = nextIpRotation();
  for (const i of indices) {
    const gw = gws[memberIndexOf(i, rooms) % gws.length]!;
    shares[i % env.workers.size]!.push({
      token: mintToken(pop.userIds[i]!, env.jwtSecret),
      topic: `chat:${pop.roomIds[roomOf(i, rooms)]!}`,
      port: gw.port,
      localAddress: sourceAddress(env, i, rot),
    });
  }
  return shares;
}

export const range = (from: number, to: number) => Array.from({ length: to - from }, (_, k) => from + k);

export async function connectOrFail(env: Env, shares: ConnSpec[][], what: string) {
  const out = await env.workers.connect(shares, env.cfg.concurrency);
  log(
    `${what}: ${out.ok} joined, ${out.failed} failed in ${out.seconds.toFixed(1)} s` +
      (out.errors.length ? `\n  ${out.errors.join("\n  ")}` : ""),
  );
  return out;
}
