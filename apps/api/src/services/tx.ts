/**
 * @module
 * A transaction that may end in an expected "no": `abort(reason)` rolls everything back and the
 * call resolves to that reason as a value, while real errors still reject. (drizzle's own
 * tx.rollback() throws an error class from whichever drizzle-orm copy the db package resolved,
 * which is awkward to recognise from here.)
 */
import type { Db } from "@nexus/db";

class Aborted<R> extends Error {
  constructor(readonly reason: R) {
    super("transaction aborted");
  }
}

export type TxResult<T, R> = { ok: true; value: T } | { ok: false; reason: R };

export async function transactionOrAbort<T, R = "aborted">(
  db: Db,
  fn: (tx: Db, abort: (reason: R) => never) => Promise<T>,
): Promise<TxResult<T, R>> {
  const abort = (reason: R): never => {
    throw new Aborted(reason);
  };
  try {
    return { ok: true, value: await db.transaction((tx) => fn(tx, abort)) };
  } catch (err) {
    if (err instanceof Aborted) return { ok: false, reason: err.reason as R };
    throw err;
  }
}
