/**
 * @module
 * A client worker process (forked by the runner). It holds a share of the sockets, so that no
 * process comes near the 20,000 open-file limit, and does everything per socket: connect + join,
 * Phoenix heartbeats, sending `new_msg` at the offered rate, and counting/timing broadcasts.
 *
 * Broadcasts are never JSON.parse'd: the frame shape `[null,null,"chat:…","new_msg",{…}]` is
 * recognised by its bytes and the send time is read from the digits of the body `t:<step>:<µs>`.
 */

import { classify, FrameKind, readStamp, sendFrame, sendFrameParts } from "./bench-frames.js";
import { nowUs } from "./clock.js";
import { Histogram } from "./histogram.js";
import type { ConnSpec, FromWorker, ToWorker } from "./ipc.js";
import { PhxSocket } from "./phx-client.js";
import { createPresenceWorker } from "./presence-worker.js";

interface Client {
  phx: PhxSocket;
  topic: string;
  joinRef: string;
  /** Prebuilt frame parts, so a send only formats the ref and the timestamp. */
  parts: { head: string; mid: string };
  /** Sends awaiting their reply: ref → [step, send time µs], for the ack latency. */
  inFlight: Map<string, [number, number]>;
}

const send = (m: FromWorker) => process.send?.(m);
/** The presence scenario's sockets (presence-worker.ts); idle unless that scenario runs. */
const presence = createPresenceWorker(send);

const clients: Client[] = [];
let closingAll = false;
let closedUnexpectedly = 0;
const closeReasons: Record<string, number> = {};
let heartbeatReplies = 0;
let replyOk = 0;
let replyError = 0;
const errorSamples: string[] = [];

// Per-step delivery counters, indexed by the step number carried in each message body.
const deliveries: number[] = [];
const inWindow: number[] = [];
const stepEndUs: number[] = [];
/** Receipt time of the last delivery per step: throughput = deliveries / (last − start). */
const lastRecvUs: number[] = [];
const hists: Histogram[] = [];
/** Send → reply (`{id, seq}`: the message is persisted and broadcast) per step. */
const ackHists: Histogram[] = [];

const cpu = () => {
  const u = process.cpuUsage();
  return { userUs: u.user, systemUs: u.system };
};

function onBroadcast(data: Buffer): void {
  const stamp = readStamp(data);
  if (!stamp) return;
  const { step, sentUs } = stamp;
  const now = nowUs();
  deliveries[step] = (deliveries[step] ?? 0) + 1;
  lastRecvUs[step] = now;
  const end = stepEndUs[step];
  if (end !== undefined && now <= end) inWindow[step] = (inWindow[step] ?? 0) + 1;
  let h = hists[step];
  if (!h) hists[step] = h = new Histogram();
  h.record(now - sentUs);
}

/** A reply `["<jr>","<ref>",…`: times the send it answers. */
function onReply(c: Client, data: Buffer): void {
  const at = c.parts.head.length;
  const end = data.indexOf(0x22, at);
  if (end < 0) return;
  const ref = data.toString("latin1", at, end);
  const sent = c.inFlight.get(ref);
  if (!sent) return;
  c.inFlight.delete(ref);
  let h = ackHists[sent[0]];
  if (!h) ackHists[sent[0]] = h = new Histogram();
  h.record(nowUs() - sent[1]);
}

/** The fast path for every inbound text frame once a socket is joined: classify by bytes, count. */
function onText(c: Client, data: Buffer): boolean {
  switch (classify(data)) {
    case FrameKind.Broadcast:
      onBroadcast(data);
      break;
    case FrameKind.HeartbeatOk:
      heartbeatReplies++;
      break;
    case FrameKind.ReplyOk:
      replyOk++;
      onReply(c, data);
      break;
    case FrameKind.Push:
      // Channel pushes (presence_state after a join, …) are not part of what is measured.
      break;
    default:
      noteError(data);
      if (data[1] !== 0x6e) onReply(c, data);
  }
  return true;
}

function noteError(data: Buffer): void {
  replyError++;
  if (errorSamples.length < 5) errorSamples.push(data.subarray(0, 300).toString());
}

function onClose(why: string): void {
  if (closingAll) return;
  closedUnexpectedly++;
  closeReasons[why] = (closeReasons[why] ?? 0) + 1;
}

async function connectAll(
  conns: ConnSpec[],
  concurrency: number,
  timeoutMs: number,
  startAtUs: number,
): Promise<void> {
  const hist = new Histogram();
  const errors = new Map<string, number>();
  let ok = 0;
  let failed = 0;
  let next = 0;
  const wait = (startAtUs - nowUs()) / 1000;
  if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  const firstStartUs = nowUs();
  let lastDoneUs = firstStartUs;
  const attempt = async (spec: ConnSpec, t0: number) => {
    let phx: PhxSocket | undefined;
    try {
      phx = await PhxSocket.connect({
        host: "127.0.0.1",
        port: spec.port,
        token: spec.token,
        localAddress: spec.localAddress,
        timeoutMs,
      });
      phx.onClose = onClose;
      const reply = await phx.join(spec.topic, {}, timeoutMs);
      if (reply.status !== "ok") throw new Error(`join ${reply.status}: ${JSON.stringify(reply.response)}`);
      const done = nowUs();
      hist.record(done - t0);
      if (done > lastDoneUs) lastDoneUs = done;
      const client: Client = {
        phx,
        topic: spec.topic,
        joinRef: reply.joinRef,
        parts: sendFrameParts(reply.joinRef, spec.topic),
        inFlight: new Map(),
      };
      phx.onText = (data) => onText(client, data);
      clients.push(client);
    } catch (e) {
      if (phx) {
        phx.onClose = undefined;
        phx.close();
      }
      throw e;
    }
  };
  // A failed socket is tried twice more (as a real client would reconnect); the failures that
  // were retried are reported too, so a flaky path does not go unnoticed.
  const one = async (spec: ConnSpec) => {
    const t0 = nowUs();
    for (let tries = 1; ; tries++) {
      try {
        await attempt(spec, t0);
        ok++;
        return;
      } catch (e) {
        const key = `${tries < 3 ? "retried after: " : ""}${(e as Error).message.slice(0, 160)}`;
        errors.set(key, (errors.get(key) ?? 0) + 1);
        if (tries >= 3) {
          failed++;
          return;
        }
        await new Promise((r) => setTimeout(r, 100 * tries));
      }
    }
  };
  const lanes = Array.from({ length: Math.max(1, Math.min(concurrency, conns.length)) }, async () => {
    while (next < conns.length) await one(conns[next++]!);
  });
  await Promise.all(lanes);
  send({
    type: "connected",
    ok,
    failed,
    errors: [...errors].map(([k, n]) => `${n}× ${k}`),
    hist: hist.toJSON(),
    firstStartUs,
    lastDoneUs,
    cpu: cpu(),
  });
}

// Phoenix clients heartbeat every 30 s and the gateway closes sockets silent for 60 s. One timer
// sweeps 1/30 of the sockets each second, so heartbeats are spread evenly instead of bursting.
let hbTick = 0;
setInterval(() => {
  const slot = hbTick++ % 30;
  for (let i = slot; i < clients.length; i += 30) {
    const c = clients[i]!;
    if (!c.phx.closed) c.phx.heartbeat();
  }
}, 1_000).unref();

let sendCursor = 0;

/** Open-loop sending: whatever is due by the clock is sent, so a slow tick does not lower the offered rate. */
function runStep(step: number, rate: number, startAtUs: number, durationMs: number): void {
  const endAtUs = startAtUs + durationMs * 1000;
  stepEndUs[step] = endAtUs;
  const total = Math.round((rate * durationMs) / 1000);
  let sent = 0;
  let lateUs = 0;
  const tick = () => {
    const now = nowUs();
    if (now < startAtUs) return;
    const due = now >= endAtUs ? total : Math.min(total, Math.floor(((now - startAtUs) * rate) / 1e6));
    if (due - sent > 1 && now - startAtUs > 0) lateUs = Math.max(lateUs, ((due - sent - 1) * 1e6) / rate);
    while (sent < due && clients.length > 0) {
      const c = clients[sendCursor++ % clients.length]!;
      if (c.phx.closed) {
        // A dead socket cannot send; skip it but still count the message as offered-but-unsent.
        sent++;
        continue;
      }
      const ref = c.phx.nextRef();
      const t = nowUs();
      c.inFlight.set(ref, [step, t]);
      c.phx.sendText(sendFrame(c.parts, ref, step, t));
      sent++;
    }
    if (sent >= total) {
      clearInterval(timer);
      send({ type: "step-sent", step, sent, lateUs });
    }
  };
  const timer = setInterval(tick, 2);
}

function collect(step: number): void {
  send({
    type: "collected",
    step,
    deliveries: deliveries[step] ?? 0,
    inWindow: inWindow[step] ?? 0,
    lastRecvUs: lastRecvUs[step] ?? 0,
    hist: (hists[step] ?? new Histogram()).toJSON(),
    ackHist: (ackHists[step] ?? new Histogram()).toJSON(),
    replyOk,
    replyError,
    errorSamples: [...errorSamples],
    open: clients.filter((c) => !c.phx.closed).length,
    closedUnexpectedly,
    closeReasons: { ...closeReasons },
    heartbeatReplies,
    cpu: cpu(),
  });
}

async function closeAll(): Promise<void> {
  closingAll = true;
  const n = clients.length;
  for (const c of clients) c.phx.close();
  clients.length = 0;
  const p = presence.closeAll();
  send({ type: "closed", count: n + p });
}

process.on("message", (m: ToWorker) => {
  const run = async () => {
    switch (m.type) {
      case "connect":
        return connectAll(m.conns, m.concurrency, m.timeoutMs, m.startAtUs);
      case "step":
        return runStep(m.step, m.rate, m.startAtUs, m.durationMs);
      case "collect":
        return collect(m.step);
      case "close-all":
        return closeAll();
      case "presence-setup":
        return presence.setup(m);
      case "presence-prefill":
        return presence.prefill(m);
      case "presence-step":
        return presence.step(m);
      case "presence-collect":
        return presence.collect(m);
      case "presence-verify":
        return presence.verify(m);
      case "exit":
        process.exit(0);
    }
  };
  run().catch((e: Error) => send({ type: "fatal", message: e.stack ?? e.message }));
});
// The runner died or let go: never linger holding thousands of sockets.
process.on("disconnect", () => process.exit(0));
send({ type: "ready" });
