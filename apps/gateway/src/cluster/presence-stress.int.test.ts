// SCRATCH (not to keep): nodes whose last local channel leaves and rejoins often.
import { createTestDatabase, type RedisServer, startRedis, type TestDatabase } from "@nexus/testkit";
import { afterAll, beforeAll, expect, inject, it } from "vitest";
import { Cluster } from "./cluster-harness.js";
import { JWT_SECRET, seedConversation } from "./fixtures.js";
import {
  converged,
  doubleCounted,
  PresenceClient,
  refAnomalies,
  withoutDoubleCounts,
} from "./presence-client.js";

let redis: RedisServer;
let tdb: TestDatabase;
let cluster: Cluster;
const MS = Number(process.env.PRESENCE_CHURN_MS ?? 10_000);
beforeAll(async () => {
  [redis, tdb] = await Promise.all([startRedis(), createTestDatabase(inject("pgAdminUrl"))]);
});
afterAll(async () => {
  await cluster?.killAll();
  await Promise.all([redis?.stop(), tdb?.drop()]);
});

it.each(Array.from({ length: Number(process.env.REPS ?? 1) }, (_, i) => i))(
  "stress %i",
  async (rep) => {
    await cluster?.killAll();
    cluster = new Cluster({
      databaseUrl: tdb.url,
      redisUrl: redis.url,
      jwtSecret: JWT_SECRET,
      env: { PRESENCE_DOWN_MS: "2000" },
    });
    const nodes = await cluster.startAll([`x${rep}-a`, `x${rep}-b`, `x${rep}-c`, `x${rep}-d`]);
    const { conversationId: conv, users } = await seedConversation(tdb.url, 9);
    const topic = `chat:${conv}`;
    const all = [
      ...[0, 1, 2].map(
        (k) => new PresenceClient(`o${k}`, users[k]!, nodes[3]!.socketUrl, topic, { sid: true }),
      ),
      ...[0, 1, 2, 3, 4, 5].map(
        (k) => new PresenceClient(`s${k}`, users[3 + k]!, nodes[k % 3]!.socketUrl, topic, { sid: true }),
      ),
    ];
    await Promise.all(all.map((c) => c.join()));
    await converged(all, { sids: true });
    const churners = all.slice(3);
    const busy = new Set<PresenceClient>();
    const inFlight: Promise<unknown>[] = [];
    const counts = { leave: 0, join: 0, drop: 0, quick: 0 };
    const act = async (c: PresenceClient) => {
      busy.add(c);
      try {
        if (!c.wanted) {
          counts.join++;
          await c.join();
        } else if (c.synced()) {
          const r = Math.random();
          if (r < 0.4) {
            counts.leave++;
            await c.leave();
          } else if (r < 0.7) {
            counts.quick++;
            void c.leave();
            await c.join(); // leave and rejoin back to back
          } else {
            counts.drop++;
            c.drop();
          }
        }
      } finally {
        busy.delete(c);
      }
    };
    const deadline = Date.now() + MS;
    while (Date.now() < deadline) {
      const free = churners.filter((c) => !busy.has(c));
      for (let k = 0; k < 2 && free.length > 0; k++)
        inFlight.push(act(free.splice(Math.floor(Math.random() * free.length), 1)[0]!));
      await new Promise((r) => setTimeout(r, 5 + Math.random() * 30));
    }
    await Promise.all(inFlight);
    console.info("COUNTS", JSON.stringify(counts));
    await converged(all, { sids: true, timeoutMs: 15_000 });
    const problems = all.flatMap((c) => [
      ...c.violations,
      ...refAnomalies(withoutDoubleCounts(c.events)).map((p) => `${c.label} ${p}`),
    ]);
    console.info("REPLAYS", all.map((c) => doubleCounted(c.events).length).join(","));
    if (problems.length)
      console.info("PROBLEMS", JSON.stringify(problems), JSON.stringify(all.map((c) => [c.label, c.events])));
    for (const c of all) c.socket.disconnect();
    expect(problems).toEqual([]);
  },
  MS + 40_000,
);
