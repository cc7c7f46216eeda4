/**
 * @module
 * Delivers the email outbox. Each api node runs one worker; they share the table safely (rows
 * are claimed with SKIP LOCKED and a lease). A failed send is retried with exponential backoff
 * (1 s, 2 s, 4 s … capped at 15 min) up to `maxAttempts`, about a day and a half, so an SMTP
 * outage delays mail and loses none. Requests `kick` the worker after committing a row, so mail
 * normally leaves within milliseconds rather than at the next poll.
 */
import type { Logger } from "@nexus/config";
import {
  claimOutbox,
  type Db,
  markOutboxFailed,
  markOutboxSent,
  type OutboxItem,
  pruneOutbox,
} from "@nexus/db";
import type { Email, Mailer } from "./mailer.js";
import type { Vault } from "./vault.js";

export interface OutboxWorkerOptions {
  db: Db;
  vault: Vault;
  mailer: Mailer;
  log: Pick<Logger, "info" | "warn" | "error" | "debug">;
  pollMs?: number;
  batchSize?: number;
  /** How long a claimed row stays with its worker before another may take it. */
  leaseMs?: number;
  maxAttempts?: number;
  /** Delay before attempt `attempts + 1`. */
  backoffMs?: (attempts: number) => number;
  /** Sent rows are deleted after this long. */
  keepSentMs?: number;
}

export interface OutboxWorker {
  start(): void;
  /** Look for due mail now (after a request committed one). */
  kick(): void;
  /** One pass: claims and sends a batch; resolves with how many were attempted. */
  runOnce(): Promise<number>;
  stop(): Promise<void>;
}

export const outboxAssociatedData = (id: string) => `outbox:${id}`;

export function defaultBackoffMs(attempts: number): number {
  const base = Math.min(15 * 60_000, 1000 * 2 ** Math.max(0, attempts - 1));
  return Math.round(base * (0.8 + Math.random() * 0.4)); // jitter: retries of many rows spread out
}

export function createOutboxWorker(opts: OutboxWorkerOptions): OutboxWorker {
  const { db, vault, mailer, log } = opts;
  const pollMs = opts.pollMs ?? 1000;
  const batchSize = opts.batchSize ?? 20;
  const leaseMs = opts.leaseMs ?? 120_000;
  const maxAttempts = opts.maxAttempts ?? 150;
  const backoffMs = opts.backoffMs ?? defaultBackoffMs;
  const keepSentMs = opts.keepSentMs ?? 7 * 24 * 3600_000;

  let running = false;
  let loop: Promise<void> | undefined;
  let wake: (() => void) | undefined;
  let kicked = false;
  let lastPrune = 0;

  async function deliver(item: OutboxItem): Promise<void> {
    const opened = vault.open(item.payload, outboxAssociatedData(item.id));
    if (!opened.ok) {
      // Sealed under a key this node no longer has: retrying cannot help.
      log.error({ id: item.id, error: opened.error }, "outbox: cannot open message; giving up on it");
      await markOutboxFailed(db, item.id, { error: `vault: ${opened.error}`, retryInMs: undefined });
      return;
    }
    const email = JSON.parse(opened.plaintext.toString("utf8")) as Email;
    try {
      await mailer.send(email);
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      const giveUp = item.attempts >= maxAttempts;
      const retryInMs = giveUp ? undefined : backoffMs(item.attempts);
      const fields = { id: item.id, attempts: item.attempts, retryInMs, err: message };
      if (giveUp) log.error(fields, "outbox: send failed; giving up");
      else log.warn(fields, "outbox: send failed");
      await markOutboxFailed(db, item.id, { error: message, retryInMs });
      return;
    }
    await markOutboxSent(db, item.id);
    log.debug({ id: item.id, attempts: item.attempts }, "outbox: sent");
  }

  async function runOnce(): Promise<number> {
    const items = await claimOutbox(db, { limit: batchSize, leaseMs });
    await Promise.all(
      items.map((item) =>
        deliver(item).catch((err) => log.error({ err, id: item.id }, "outbox: delivery bookkeeping failed")),
      ),
    );
    if (Date.now() - lastPrune > 3600_000) {
      lastPrune = Date.now();
      await pruneOutbox(db, keepSentMs).catch((err) => log.warn({ err }, "outbox: prune failed"));
    }
    return items.length;
  }

  async function run(): Promise<void> {
    while (running) {
      kicked = false;
      let n = 0;
      try {
        n = await runOnce();
      } catch (err) {
        log.warn({ err }, "outbox: poll failed (database unavailable?)");
      }
      if (!running) break;
      // A full batch means more may be due: go again at once. Otherwise sleep until the poll or a kick.
      if (n >= batchSize || kicked) continue;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, pollMs);
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      wake = undefined;
    }
  }

  return {
    start() {
      if (running) return;
      running = true;
      loop = run();
    },
    kick() {
      kicked = true;
      wake?.();
    },
    runOnce,
    async stop() {
      running = false;
      wake?.();
      await loop;
      mailer.close();
    },
  };
}
