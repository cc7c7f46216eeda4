/**
 * @module
 * Publishes in per-event-loop-turn pipelines: every publish of one turn (all the I/O callbacks
 * the loop handled) leaves as one write, one PUBLISH per message, with no promise per message.
 *
 * Why not ioredis `enableAutoPipelining`: it runs one pipeline at a time per client and queues
 * the rest behind it. With at-most-once settings (no resend of commands in flight when the
 * connection drops) that pipeline never settles, and every later publish queues forever,
 * silently: the health-check test in redis-bus-faults.int.test.ts failed that way (after the
 * dropped connection came back, no PUBLISH ever reached Redis again). Here each batch is
 * independent, and an in-flight cap bounds memory when Redis is slow rather than down.
 */
import type { Redis } from "ioredis";

export interface BatchPublisherOptions {
  sharded: boolean;
  /** Messages sent but not yet acknowledged, plus queued ones, above which publishes are dropped. */
  maxPending: number;
  /** `count` messages were dropped or refused. */
  onError(count: number, err: unknown): void;
}

export interface BatchPublisher {
  /** Queues for this turn's pipeline; false (nothing queued) if over the cap. */
  send(channel: string, wire: string): boolean;
  /** Writes this turn's batch now (before QUIT, so a graceful close loses nothing queued). */
  flush(): void;
  /** The connection dropped: what was in flight is gone, and its replies will never come. */
  connectionLost(): void;
}

export function createBatchPublisher(client: Redis, opts: BatchPublisherOptions): BatchPublisher {
  let queue: string[] = []; // channel, wire, channel, wire, …
  let inFlight = 0;
  let generation = 0;
  let scheduled = false;
  const command = opts.sharded ? "spublish" : "publish";

  const flush = () => {
    const batch = queue;
    queue = [];
    const count = batch.length / 2;
    if (count === 0) return;
    if (client.status !== "ready") {
      opts.onError(count, new Error(`redis ${client.status}`));
      return;
    }
    const pipeline = client.pipeline();
    for (let i = 0; i < batch.length; i += 2) pipeline[command](batch[i]!, batch[i + 1]!);
    const gen = generation;
    inFlight += count;
    pipeline.exec().then(
      (results) => {
        if (gen !== generation) return;
        inFlight -= count;
        let failed = 0;
        let firstErr: unknown;
        for (const [err] of results ?? []) {
          if (!err) continue;
          failed++;
          firstErr ??= err;
        }
        if (failed > 0) opts.onError(failed, firstErr);
      },
      (err: unknown) => {
        if (gen !== generation) return;
        inFlight -= count;
        opts.onError(count, err);
      },
    );
  };

  return {
    send(channel, wire) {
      if (inFlight + queue.length / 2 >= opts.maxPending) return false;
      queue.push(channel, wire);
      if (!scheduled) {
        scheduled = true;
        setImmediate(() => {
          scheduled = false;
          flush();
        });
      }
      return true;
    },
    flush,
    connectionLost() {
      // Unacknowledged, so counted as failed, although Redis may have delivered some of them.
      if (inFlight > 0) opts.onError(inFlight, new Error("connection lost with publishes in flight"));
      generation++;
      inFlight = 0;
    },
  };
}
