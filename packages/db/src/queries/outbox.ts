/**
 * @module
 * The email outbox (schema `outbox`). Writers enqueue inside their own transaction; workers on
 * any number of nodes claim due rows with FOR UPDATE SKIP LOCKED, so no row is handed to two
 * workers at once. Claiming pushes the due time out by a lease: a worker that dies mid-send
 * leaves its rows to come back after the lease (delivery is at least once, never zero).
 */
import { and, asc, eq, inArray, isNull, lt, lte, sql } from "drizzle-orm";
import type { Db } from "../client.js";
import { outbox } from "../schema.js";

export interface OutboxItem {
  id: string;
  kind: "email";
  payload: Buffer;
  /** Attempts so far, this one included. */
  attempts: number;
}

/** `id` is chosen by the caller so the payload can be sealed with the id as associated data. */
export async function enqueueOutbox(db: Db, { id, payload }: { id: string; payload: Buffer }): Promise<void> {
  await db.insert(outbox).values({ id, kind: "email", payload });
}

export async function claimOutbox(
  db: Db,
  { limit, leaseMs }: { limit: number; leaseMs: number },
): Promise<OutboxItem[]> {
  const due = db
    .select({ id: outbox.id })
    .from(outbox)
    .where(
      and(isNull(outbox.sentAt), isNull(outbox.failedAt), lte(outbox.nextAttemptAt, sql`clock_timestamp()`)),
    )
    .orderBy(asc(outbox.nextAttemptAt))
    .limit(limit)
    .for("update", { skipLocked: true });
  const rows = await db
    .update(outbox)
    .set({
      attempts: sql`${outbox.attempts} + 1`,
      nextAttemptAt: sql`clock_timestamp() + ${leaseMs} * interval '1 millisecond'`,
    })
    .where(inArray(outbox.id, due))
    .returning({ id: outbox.id, payload: outbox.payload, attempts: outbox.attempts });
  return rows.flatMap((r) =>
    r.payload === null
      ? []
      : [{ id: r.id, kind: "email" as const, payload: r.payload, attempts: r.attempts }],
  );
}

/** Delivered: the payload (it holds a one-time link) is dropped, the row kept for a while as a record. */
export async function markOutboxSent(db: Db, id: string): Promise<void> {
  await db
    .update(outbox)
    .set({ sentAt: sql`clock_timestamp()`, payload: null, lastError: null })
    .where(eq(outbox.id, id));
}

/** A failed attempt: retried at `retryInMs`, or given up on (`retryInMs` undefined). */
export async function markOutboxFailed(
  db: Db,
  id: string,
  { error, retryInMs }: { error: string; retryInMs: number | undefined },
): Promise<void> {
  await db
    .update(outbox)
    .set(
      retryInMs === undefined
        ? { failedAt: sql`clock_timestamp()`, lastError: error.slice(0, 1000) }
        : {
            nextAttemptAt: sql`clock_timestamp() + ${retryInMs} * interval '1 millisecond'`,
            lastError: error.slice(0, 1000),
          },
    )
    .where(and(eq(outbox.id, id), isNull(outbox.sentAt)));
}

/** Deletes delivered rows older than `olderThanMs`; returns how many. */
export async function pruneOutbox(db: Db, olderThanMs: number): Promise<number> {
  const rows = await db
    .delete(outbox)
    .where(lt(outbox.sentAt, sql`clock_timestamp() - ${olderThanMs} * interval '1 millisecond'`))
    .returning({ id: outbox.id });
  return rows.length;
}

/** Rows still waiting (not sent, not given up): for health checks and tests. */
export async function pendingOutboxCount(db: Db): Promise<number> {
  const [row] = await db
    .select({ n: sql<string>`count(*)` })
    .from(outbox)
    .where(and(isNull(outbox.sentAt), isNull(outbox.failedAt)));
  return Number(row?.n ?? 0);
}
