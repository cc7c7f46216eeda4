/**
 * @module
 * `--k6-fixture FILE`: seeds a deployment's database and writes tokens and topics for the k6
 * scripts (k6/), which cannot seed or sign anything themselves.
 */
import { writeFileSync } from "node:fs";
import { mintToken } from "./jwt.js";
import { log } from "./log.js";
import type { Config } from "./options.js";
import { roomOf, seed } from "./seed.js";

export async function k6Fixture(file: string, cfg: Config, jwtSecret: string): Promise<void> {
  const url = process.env.DATABASE_URL;
  if (!url || !process.env.JWT_SECRET) {
    console.error("--k6-fixture seeds the deployment's database: set DATABASE_URL and its JWT_SECRET");
    process.exit(2);
  }
  const users = Math.max(cfg.rooms * cfg.members, cfg.sockets);
  const pop = await seed(url, { users, rooms: cfg.rooms });
  const entries = pop.userIds.map((id, i) => ({
    token: mintToken(id, jwtSecret),
    topic: `chat:${pop.roomIds[roomOf(i, cfg.rooms)]!}`,
  }));
  writeFileSync(file, JSON.stringify({ rooms: cfg.rooms, members: cfg.members, entries }));
  log(`wrote ${entries.length} tokens (${cfg.rooms} rooms) to ${file}`);
}
