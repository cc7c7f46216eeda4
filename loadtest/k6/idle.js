// @ts-check
/**
 * idle: N sockets connect, join their room and stay idle (heartbeats only) for HOLD seconds.
 * Watch the gateways' RSS meanwhile: (RSS with N sockets − RSS before) / N is the memory per idle
 * joined socket (target ≤ 2 KB). The Node runner reads it from /proc for you: `pnpm bench idle`.
 *
 *   k6 run -e WS_URL=ws://127.0.0.1:4000/socket/websocket -e FIXTURE=fixture.json \
 *          -e SOCKETS=10000 -e HOLD=120 loadtest/k6/idle.js
 */
import { check } from "k6";
import { Counter, Trend } from "k6/metrics";
import { setTimeout } from "k6/timers";
import { loadFixture, PhoenixSocket } from "./lib/phoenix.js";

const fixture = loadFixture();
const SOCKETS = Number(__ENV.SOCKETS || fixture.entries.length);
const HOLD_MS = Number(__ENV.HOLD || 120) * 1000;

/** @type {import("k6/options").Options} */
export const options = {
  scenarios: {
    idle: {
      executor: "per-vu-iterations",
      vus: SOCKETS,
      iterations: 1,
      maxDuration: `${Math.ceil(HOLD_MS / 1000) + 300}s`,
    },
  },
  thresholds: { joins_failed: ["count==0"] },
};

const joinTime = new Trend("join_time", true);
const joinsOk = new Counter("joins_ok");
const joinsFailed = new Counter("joins_failed");

export default function () {
  const entry = fixture.entries[(__VU - 1) % fixture.entries.length];
  if (!entry) throw new Error("empty fixture");
  const started = Date.now();
  const socket = new PhoenixSocket(entry.token, {
    onOpen: () =>
      socket.join(entry.topic, (reply) => {
        const ok = check(reply, { "join ok": (r) => r.status === "ok" });
        if (!ok) {
          joinsFailed.add(1);
          socket.close();
          return;
        }
        joinsOk.add(1);
        joinTime.add(Date.now() - started);
        setTimeout(() => socket.close(), HOLD_MS);
      }),
    onError: () => joinsFailed.add(1),
  });
}
