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
 *
 * On a Redis Cluster a pipeline must stay within one slot group (the nodes serving its slots:
 * ioredis rejects the whole pipeline otherwise), so a turn's batch is split by the group of each
 * channel's slot: one pipeline, one write, per master per turn.
 */
import type { Cluster, Redis } from "ioredis";
import { keySlot } from "./key-slot.js";

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
  /** A connection dropped: what was in flight on it is gone, and its replies may never come. */
  connectionLost(): void;
}

/** What the publisher uses of an ioredis client: `Redis` and `Cluster` both fit (and test fakes). */
export type PipelineClient = Pick<Redis | Cluster, "status" | "isCluster" | "pipeline"> & {
  /** A Cluster's slot map: the nodes serving each slot, master first. */
  readonly slots?: ReadonlyArray<readonly string[] | undefined>;
};

export function createBatchPublisher(client: PipelineClient, opts: BatchPublisherOptions): BatchPublisher {
  let queue: string[] = []; // channel, wire, channel, wire, …
  let inFlight = 0;
  let generation = 0;
  let scheduled = false;
  const command = opts.sharded ? "spublish" : "publish";

  /** One pipeline for `batch` (channel, wire, channel, wire, …), settled as one. */
  const exec = (batch: string[]) => {
    const count = batch.length / 2;
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

  const flush = () => {
    const batch = queue;
    queue = [];
    const count = batch.length / 2;
    if (count === 0) return;
    if (client.status !== "ready") {
      opts.onError(count, new Error(`redis ${client.status}`));
      return;
    }
    if (!client.isCluster) {
      exec(batch);
      return;
    }
    // Keyed as ioredis groups slots (the node list joined), so slots it would accept in one
    // pipeline share one here; a slot missing from the map goes alone.
    const groups = new Map<string, string[]>();
    for (let i = 0; i < batch.length; i += 2) {
      const slot = keySlot(batch[i]!);
      const key = client.slots?.[slot]?.join(";") ?? `slot ${slot}`;
      const group = groups.get(key);
      if (group) group.push(batch[i]!, batch[i + 1]!);
      else groups.set(key, [batch[i]!, batch[i + 1]!]);
    }
    for (const group of groups.values()) exec(group);
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
      // Unacknowledged, so counted as failed, although Redis may have delivered some of them. On a
      // Cluster that includes what was in flight to the masters that stayed up.
      if (inFlight > 0) opts.onError(inFlight, new Error("connection lost with publishes in flight"));
      generation++;
      inFlight = 0;
    },
  };
}
