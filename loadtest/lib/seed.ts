/**
 * @module
 * The load population: `users` users and `rooms` public conversations; user i is a member of room
 * i % rooms. So the first rooms × members users fill every room with exactly `members` members,
 * and user i's member index in its room is floor(i / rooms).
 */
import { randomBytes, randomUUID } from "node:crypto";
import { createDb, schema } from "@nexus/db";

export interface Population {
  userIds: string[];
  roomIds: string[];
}

export const roomOf = (i: number, rooms: number) => i % rooms;
export const memberIndexOf = (i: number, rooms: number) => Math.floor(i / rooms);

/** Migrates `url` (idempotent) and inserts a fresh population; emails carry a run tag so reruns never collide. */
export async function seed(
  url: string,
  { users, rooms }: { users: number; rooms: number },
): Promise<Population> {
  const handle = createDb({ kind: "postgres", url, poolSize: 2 });
  try {
    await handle.migrate();
    const db = handle.db;
    const run = randomBytes(4).toString("hex");
    const userIds = Array.from({ length: users }, () => randomUUID());
    const roomIds = Array.from({ length: rooms }, () => randomUUID());
    const BATCH = 1_000;
    for (let i = 0; i < users; i += BATCH) {
      await db.insert(schema.users).values(
        userIds.slice(i, i + BATCH).map((id, k) => ({
          id,
          email: `lt-${run}-${i + k}@loadtest.invalid`,
          displayName: `load ${i + k}`,
          // Matches no password: these accounts only ever connect with minted tokens.
          passwordHash: "!",
        })),
      );
    }
    await db
      .insert(schema.conversations)
      .values(roomIds.map((id) => ({ id, private: false, alias: "load" })));
    for (let i = 0; i < users; i += BATCH) {
      await db
        .insert(schema.conversationMembers)
        .values(
          userIds
            .slice(i, i + BATCH)
            .map((userId, k) => ({ userId, conversationId: roomIds[roomOf(i + k, rooms)]! })),
        );
    }
    return { userIds, roomIds };
  } finally {
    await handle.close();
  }
}
