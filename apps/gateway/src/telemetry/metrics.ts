/**
 * @module
 * The gateway's Prometheus metrics. Counts the node already keeps (gateway, fan-out, bus and
 * presence stats) are read when Prometheus scrapes, so the delivery path pays nothing for
 * them; only the channel handler timings (instrument.ts) are observed as they happen.
 */
import type { BusStats } from "@nexus/bus";
import type { Registry } from "@nexus/http";
import type { TrackerStats } from "@nexus/presence";
import { Counter, Gauge, Histogram } from "prom-client";
import type { GatewayStats } from "../gateway.js";
import type { ChannelTelemetry, HandleStatus, JoinStatus } from "./instrument.js";

export interface GatewayMetricSources {
  gateway(): GatewayStats;
  bus(): BusStats;
  busReady(): boolean;
  presence(): TrackerStats;
}

/**
 * Joins hit Postgres (membership) and pushes mostly do (a message append): fine buckets below
 * 10 ms, where a healthy node answers, then coarse ones up to the reply timeouts of clients.
 */
const DURATION_BUCKETS = [
  0.0005, 0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.015, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
];

export function registerGatewayMetrics(registry: Registry, src: GatewayMetricSources): ChannelTelemetry {
  const registers = [registry];
  // Each metric reads its own source afresh: the stats are small objects built on demand and a
  // scrape is rare, so no caching (which would serve one scrape's numbers to the next).
  const gauge = (name: string, help: string, read: () => number) =>
    new Gauge({
      name,
      help,
      registers,
      collect() {
        this.set(read());
      },
    });
  // The sources are monotonic totals kept by the node; a collect-time counter mirrors them.
  const counter = (name: string, help: string, read: () => number) =>
    new Counter({
      name,
      help,
      registers,
      collect() {
        this.reset();
        this.inc(read());
      },
    });

  gauge("nexus_gateway_connections", "Open Phoenix sockets on this node.", () => src.gateway().connections);
  counter("nexus_gateway_connects_total", "Sockets accepted since start.", () => src.gateway().connectsTotal);
  counter(
    "nexus_gateway_connects_refused_total",
    "Upgrades refused (bad token, origin, vsn) since start.",
    () => src.gateway().refusedTotal,
  );
  counter(
    "nexus_gateway_slow_consumers_closed_total",
    "Sockets closed because their send buffer passed the backpressure limit.",
    () => src.gateway().slowConsumersClosed,
  );
  counter(
    "nexus_gateway_dropped_frames_total",
    "Frames not sent to a socket over its backpressure limit.",
    () => src.gateway().droppedFrames,
  );
  gauge(
    "nexus_gateway_topics",
    "Topics with local members (one bus subscription each).",
    () => src.gateway().fanout.topics,
  );
  new Counter({
    name: "nexus_gateway_broadcasts_total",
    help: "Broadcasts delivered on this node, by where they were sent from.",
    labelNames: ["origin"] as const,
    registers,
    collect() {
      const f = src.gateway().fanout;
      this.reset();
      this.inc({ origin: "local" }, f.broadcasts);
      this.inc({ origin: "remote" }, f.remoteBroadcasts);
    },
  });
  counter(
    "nexus_gateway_gaps_filled_total",
    "Numbered broadcasts lost on the bus and re-read from Postgres.",
    () => src.gateway().fanout.gapsFilled,
  );

  gauge("nexus_bus_ready", "1 when the bus (Redis) is connected and subscribed.", () =>
    src.busReady() ? 1 : 0,
  );
  counter("nexus_bus_published_total", "Messages handed to the bus.", () => src.bus().published);
  counter("nexus_bus_received_total", "Messages from other nodes received.", () => src.bus().received);
  counter(
    "nexus_bus_publish_errors_total",
    "Publishes dropped because the broker was down or refused them.",
    () => src.bus().publishErrors,
  );
  counter(
    "nexus_bus_decode_errors_total",
    "Bus messages that failed to decode.",
    () => src.bus().decodeErrors,
  );
  gauge(
    "nexus_bus_subscribed_topics",
    "Topics this node is subscribed to on the bus.",
    () => src.bus().subscribedTopics,
  );

  gauge(
    "nexus_presence_peers_up",
    "Other nodes this node hears presence heartbeats from.",
    () => src.presence().peersUp,
  );
  counter(
    "nexus_presence_gap_resyncs_total",
    "Presence snapshots requested after a lost delta.",
    () => src.presence().gapResyncs,
  );

  const joined = new Histogram({
    name: "nexus_channel_join_duration_seconds",
    help: "Time a channel's join handler took (membership checks included), by channel and outcome.",
    labelNames: ["channel", "status"] as const,
    buckets: DURATION_BUCKETS,
    registers,
  });
  const handled = new Histogram({
    name: "nexus_channel_handle_in_duration_seconds",
    help: "Time a client push took in its channel handler (a message's Postgres write included), by channel, event and outcome.",
    labelNames: ["channel", "event", "status"] as const,
    buckets: DURATION_BUCKETS,
    registers,
  });
  // Label lookups hash their values; the label sets are few, so resolve each once.
  const joinedChildren = new Map<string, { observe(v: number): void }>();
  const handledChildren = new Map<string, { observe(v: number): void }>();
  return {
    joined(channel: string, status: JoinStatus, seconds: number) {
      const key = `${channel}\u0000${status}`;
      let child = joinedChildren.get(key);
      if (!child) {
        child = joined.labels(channel, status);
        joinedChildren.set(key, child);
      }
      child.observe(seconds);
    },
    handledIn(channel: string, event: string, status: HandleStatus, seconds: number) {
      const key = `${channel}\u0000${event}\u0000${status}`;
      let child = handledChildren.get(key);
      if (!child) {
        child = handled.labels(channel, event, status);
        handledChildren.set(key, child);
      }
      child.observe(seconds);
    },
  };
}
