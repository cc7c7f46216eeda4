// @ts-check
/**
 * fanout: every entry of the fixture (rooms × members) joins its room; together they send RATE
 * new_msg per second (each message by one member, to its own room, so every message is delivered
 * to all `members` members). The body carries the send time: `t:<epoch ms>`; `fanout_latency` is
 * send → receipt at each member. Run a ladder of RATEs to find saturation (delivered < offered, or
 * p99 exploding), then report p99 at half of it (target < 10 ms).
 *
 *   k6 run -e WS_URL=ws://127.0.0.1:4000/socket/websocket -e FIXTURE=fixture.json \
 *          -e RATE=200 -e DURATION=30 loadtest/k6/fanout.js
 */
import { check } from "k6";
import { Counter, Trend } from "k6/metrics";
import { clearInterval, setInterval, setTimeout } from "k6/timers";
import { loadFixture, PhoenixSocket } from "./lib/phoenix.js";

const fixture = loadFixture();
const VUS = fixture.entries.length;
const RATE = Number(__ENV.RATE || 100);
const DURATION_MS = Number(__ENV.DURATION || 30) * 1000;
/** Every VU joins first; sending starts this long after the test starts, so all are in. */
const JOIN_GRACE_MS = Number(__ENV.JOIN_GRACE || 30) * 1000;

/** @type {import("k6/options").Options} */
export const options = {
  scenarios: {
    fanout: {
      executor: "per-vu-iterations",
      vus: VUS,
      iterations: 1,
      maxDuration: `${Math.ceil((JOIN_GRACE_MS + DURATION_MS) / 1000) + 120}s`,
    },
  },
  thresholds: {
    fanout_latency: ["p(99)<10"],
    send_errors: ["count==0"],
  },
};

const latency = new Trend("fanout_latency", true);
const delivered = new Counter("deliveries");
const sent = new Counter("messages_sent");
const sendErrors = new Counter("send_errors");

export default function () {
  const entry = fixture.entries[(__VU - 1) % fixture.entries.length];
  if (!entry) throw new Error("empty fixture");
  const testStart = Date.now();
  const socket = new PhoenixSocket(entry.token, {
    onOpen: () =>
      socket.join(entry.topic, (reply, joinRef) => {
        if (!check(reply, { "join ok": (r) => r.status === "ok" })) {
          socket.close();
          return;
        }
        socket.onBroadcast = (_topic, event, payload) => {
          if (event !== "new_msg") return;
          const text = payload?.content?.text;
          if (typeof text === "string" && text.startsWith("t:")) {
            delivered.add(1);
            latency.add(Date.now() - Number(text.slice(2)));
          }
        };
        // Each VU sends RATE / VUS per second: together the offered rate is RATE msgs/s.
        const everyMs = (1000 * VUS) / RATE;
        const begin = Math.max(0, JOIN_GRACE_MS - (Date.now() - testStart)) + Math.random() * everyMs;
        setTimeout(() => {
          const timer = setInterval(() => {
            socket.push(entry.topic, "new_msg", { body: `t:${Date.now()}` }, joinRef, (r) => {
              if (r.status !== "ok") sendErrors.add(1);
            });
            sent.add(1);
          }, everyMs);
          setTimeout(() => {
            clearInterval(timer);
            // Leave time for the last broadcasts to arrive before closing.
            setTimeout(() => socket.close(), 5_000);
          }, DURATION_MS);
        }, begin);
      }),
  });
}
