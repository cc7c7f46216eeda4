/**
 * Presence over real Redis pub/sub, on a dedicated redis-server this file restarts: views
 * re-converge after Redis goes away (shorter and longer than the down period), with no ghosts
 * and no duplicates. Real time, short periods; readiness by polling, never fixed sleeps.
 */
import { randomUUID } from "node:crypto";
import { type Bus, type BusLogger, createRedisBus, whenReady } from "@nexus/bus";
import { pingRedis, type RedisServer, startRedis, waitFor } from "@nexus/testkit";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { canonical, clientApply, diffProblems } from "./testing.js";
import { createTracker, type Tracker } from "./tracker.js";
import type { PresenceMap } from "./types.js";

const T = "chat:int";
const quiet: BusLogger = { warn() {}, error() {}, info() {} };

let redis: RedisServer;
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await redis.stop();
});

interface Node {
  name: string;
  bus: Bus;
  tracker: Tracker;
  client: PresenceMap;
  problems: string[];
}

for (const sharded of [false, true]) {
  describe(`presence over redis (${sharded ? "sharded" : "plain"} pub/sub)`, () => {
    let open: Node[] = [];
    afterEach(async () => {
      for (const n of open) {
        await n.tracker.close({ graceful: false });
        await n.bus.close();
      }
      open = [];
      if (!(await pingRedis(redis.port))) await redis.start();
    });

    async function cluster(
      names: string[],
      downPeriodMs: number,
      prefix = `test-${randomUUID().slice(0, 8)}`,
    ): Promise<Node[]> {
      const nodes: Node[] = [];
      for (const name of names) {
        const bus = createRedisBus({ url: redis.url, prefix, nodeId: name, sharded, logger: quiet });
        await whenReady(bus);
        const n: Node = {
          name,
          bus,
          tracker: undefined as unknown as Tracker,
          client: Object.create(null),
          problems: [],
        };
        n.tracker = createTracker({
          bus,
          heartbeatMs: 100,
          downPeriodMs,
          syncTimeoutMs: 1_000,
          onDiff(topic, diff) {
            if (topic !== T) return;
            n.problems.push(...diffProblems(diff));
            n.client = clientApply(n.client, diff);
          },
        });
        await n.tracker.ready();
        await n.tracker.watch(T);
        nodes.push(n);
        open.push(n);
      }
      return nodes;
    }

    /** Every node lists exactly `expected` refs, once each, and its client model agrees. */
    const convergedOn = (nodes: Node[], expected: string[]) => () =>
      nodes.every((n) => {
        const metas = Object.values(n.tracker.list(T)).flatMap((p) => p.metas);
        const got = metas.map((m) => m.phx_ref).sort();
        return (
          JSON.stringify(got) === JSON.stringify([...expected].sort()) &&
          canonical(n.client) === canonical(n.tracker.list(T))
        );
      });

    /** What each node lists, for failure messages. */
    const describe = (nodes: Node[]) =>
      nodes
        .map((n) => {
          const got = Object.values(n.tracker.list(T)).flatMap((p) => p.metas.map((m) => m.phx_ref));
          return `${n.name}: ${JSON.stringify(got)} ${JSON.stringify(n.tracker.stats())}`;
        })
        .join("; ");

    const ref = (r: ReturnType<Tracker["track"]>) => {
      if (!r.ok) throw new Error(`expected ok, got ${r.reason}`);
      return r.ref;
    };

    it("a Redis restart shorter than the down period: changes made meanwhile converge everywhere", async () => {
      const nodes = await cluster(["a", "b", "c"], 5_000);
      const [a, b, c] = nodes as [Node, Node, Node];
      const ra = ref(a.tracker.track(T, "ua", "s1", { n: 1 }));
      const rb = ref(b.tracker.track(T, "ub", "s2", { n: 1 }));
      const rc = ref(c.tracker.track(T, "uc", "s3", { n: 1 }));
      await waitFor(convergedOn(nodes, [ra, rb, rc]), { what: "initial convergence", timeoutMs: 5_000 });

      await redis.kill();
      await waitFor(() => nodes.every((n) => !n.bus.isReady()), { what: "buses notice", timeoutMs: 10_000 });
      a.tracker.untrack(T, "s1");
      const rb2 = ref(b.tracker.update(T, "ub", "s2", { n: 2 }));
      const rc2 = ref(c.tracker.track(T, "uc2", "s4", { n: 1 }));
      await redis.start();

      await waitFor(convergedOn(nodes, [rb2, rc, rc2]), { what: "re-convergence", timeoutMs: 15_000 }).catch(
        (e) => {
          throw new Error(`${(e as Error).message}; ${describe(nodes)}`);
        },
      );
      for (const n of nodes) expect(n.problems).toEqual([]);
    });

    it("a Redis outage longer than the down period: others leave, come back with the same refs, converge", async () => {
      const nodes = await cluster(["a", "b"], 600);
      const [a, b] = nodes as [Node, Node];
      const ra = ref(a.tracker.track(T, "ua", "s1", {}));
      const rb = ref(b.tracker.track(T, "ub", "s2", {}));
      await waitFor(convergedOn(nodes, [ra, rb]), { what: "initial convergence", timeoutMs: 5_000 });

      await redis.kill();
      // Each node declares the other down: its users leave this node's view.
      await waitFor(convergedOn([a], [ra]), { what: "b declared down on a", timeoutMs: 10_000 });
      await waitFor(convergedOn([b], [rb]), { what: "a declared down on b", timeoutMs: 10_000 });
      const rb2 = ref(b.tracker.track(T, "ub2", "s3", {}));
      await redis.start();

      await waitFor(convergedOn(nodes, [ra, rb, rb2]), { what: "re-convergence", timeoutMs: 15_000 });
      for (const n of nodes) expect(n.problems).toEqual([]);
    });

    it("a node that joins late gets the complete state as soon as watch() resolves", async () => {
      const prefix = `test-${randomUUID().slice(0, 8)}`;
      const nodes = await cluster(["a", "b"], 5_000, prefix);
      const [a, b] = nodes as [Node, Node];
      const refs = [ref(a.tracker.track(T, "ua", "s1", {})), ref(b.tracker.track(T, "ub", "s2", {}))];
      await waitFor(convergedOn(nodes, refs), { what: "convergence", timeoutMs: 5_000 });
      const [late] = await cluster(["late"], 5_000, prefix);
      // cluster() returned right after watch() resolved: no polling allowed here.
      const got = Object.values(late!.tracker.list(T)).flatMap((p) => p.metas.map((m) => m.phx_ref));
      expect(got.sort()).toEqual(refs.sort());
    });
  });
}
