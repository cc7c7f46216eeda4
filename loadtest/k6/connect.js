// @ts-check
/**
 * connect: a storm of connects + joins. Each iteration opens a socket, joins its room and closes
 * as soon as the join is answered; `connect_join_time` is open → join reply, and the iterations/s
 * k6 reports is the connects + joins per second the gateways sustained.
 *
 *   k6 run -e WS_URL=ws://127.0.0.1:4000/socket/websocket -e FIXTURE=fixture.json \
 *          -e CONNECTS=10000 -e VUS=256 loadtest/k6/connect.js
 */
import { check } from "k6";
import { Counter, Trend } from "k6/metrics";
import { loadFixture, PhoenixSocket } from "./lib/phoenix.js";

const fixture = loadFixture();
const CONNECTS = Number(__ENV.CONNECTS || fixture.entries.length);

/** @type {import("k6/options").Options} */
export const options = {
  scenarios: {
    storm: {
      executor: "shared-iterations",
      vus: Number(__ENV.VUS || 256),
      iterations: CONNECTS,
      maxDuration: __ENV.MAX_DURATION || "5m",
    },
  },
  thresholds: { joins_failed: ["count==0"] },
};

const connectJoin = new Trend("connect_join_time", true);
const joinsOk = new Counter("joins_ok");
const joinsFailed = new Counter("joins_failed");

export default function () {
  const entry = fixture.entries[(__ITER + __VU * 7919) % fixture.entries.length];
  if (!entry) throw new Error("empty fixture");
  const started = Date.now();
  const socket = new PhoenixSocket(entry.token, {
    onOpen: () =>
      socket.join(entry.topic, (reply) => {
        if (check(reply, { "join ok": (r) => r.status === "ok" })) {
          joinsOk.add(1);
          connectJoin.add(Date.now() - started);
        } else {
          joinsFailed.add(1);
        }
        socket.close();
      }),
    onError: () => joinsFailed.add(1),
  });
}
