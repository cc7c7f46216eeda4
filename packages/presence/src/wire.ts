/**
 * @module
 * Presence messages on the bus, and the bus topics they travel on. The bus checks only that a
 * message has a string `kind`; this module validates the rest, so a malformed or foreign
 * message is dropped and counted instead of corrupting the state. The sender's node id is the
 * envelope's origin, so bodies carry only the sender's `vsn`.
 *
 * Bus topics (under a namespace, default "presence"):
 * - `<ns>:ctl`          every node: heartbeats, hello, leaving, cluster-wide sync requests;
 * - `<ns>:n:<node>`     one node's inbox: welcomes, targeted sync requests, snapshot replies;
 * - `<ns>:t:<topic>`    nodes watching a Phoenix topic: its deltas, digests, re-asserted snapshots.
 */
import type { NodeId } from "@nexus/bus";
import type { RenderedMeta, WireEntry } from "./types.js";

declare module "@nexus/bus" {
  interface BusMessageTypes {
    /** Liveness, every heartbeat period, on ctl. */
    presence_hb: { vsn: number };
    /** "I am new (or back): who is there?" on ctl; each node answers with a welcome. */
    presence_hello: { vsn: number };
    /** Answer to a hello, on the asker's inbox: the nodes the sender believes up. */
    presence_welcome: { vsn: number; to: number; peers: NodeId[] };
    /** Graceful stop: drop my entries now. */
    presence_leaving: { vsn: number };
    /** A batch of the sender's operations on one topic (see `Delta`). */
    presence_delta: {
      vsn: number;
      topic: string;
      from: number;
      to: number;
      fresh: boolean;
      joins: WireEntry[];
      leaves: string[];
    };
    /** The version and size of the sender's set on a topic, one heartbeat after its last delta. */
    presence_digest: { vsn: number; topic: string; version: number; size: number };
    /** Asks for snapshots of the receivers' own sets on these topics (ctl: everyone; inbox: one node). */
    presence_sync: { vsn: number; reqId: number; topics: string[] };
    /**
     * The sender's sets on `topics` as of `version`: those listed in `sets`, every other topic
     * empty. A reply carries `reqId` and the asker's vsn in `to`; a re-assertion carries neither.
     */
    presence_snapshots: {
      vsn: number;
      reqId?: number;
      to?: number;
      version: number;
      topics: string[];
      sets: Array<[topic: string, entries: WireEntry[]]>;
    };
  }
}

export interface Channels {
  ctl: string;
  inbox(node: NodeId): string;
  topic(topic: string): string;
}

export function channels(namespace: string): Channels {
  return {
    ctl: `${namespace}:ctl`,
    inbox: (node) => `${namespace}:n:${node}`,
    topic: (topic) => `${namespace}:t:${topic}`,
  };
}

const isObject = (x: unknown): x is Record<string, unknown> =>
  typeof x === "object" && x !== null && !Array.isArray(x);
const isCount = (x: unknown): x is number => Number.isSafeInteger(x) && (x as number) >= 0;
const isStrings = (x: unknown): x is string[] => Array.isArray(x) && x.every((s) => typeof s === "string");

export function isWireEntry(x: unknown): x is WireEntry {
  return (
    Array.isArray(x) &&
    x.length === 2 &&
    typeof x[0] === "string" &&
    isObject(x[1]) &&
    typeof (x[1] as RenderedMeta).phx_ref === "string"
  );
}

const isEntries = (x: unknown): x is WireEntry[] => Array.isArray(x) && x.every(isWireEntry);

/** True when the body matches its kind's shape; every presence kind carries a numeric vsn. */
export function isValidPresenceMessage(m: Record<string, unknown>): boolean {
  if (!isCount(m.vsn)) return false;
  switch (m.kind) {
    case "presence_hb":
    case "presence_hello":
    case "presence_leaving":
      return true;
    case "presence_welcome":
      return isCount(m.to) && isStrings(m.peers);
    case "presence_delta":
      return (
        typeof m.topic === "string" &&
        isCount(m.from) &&
        isCount(m.to) &&
        typeof m.fresh === "boolean" &&
        isEntries(m.joins) &&
        isStrings(m.leaves)
      );
    case "presence_digest":
      return typeof m.topic === "string" && isCount(m.version) && isCount(m.size);
    case "presence_sync":
      return isCount(m.reqId) && isStrings(m.topics);
    case "presence_snapshots":
      return (
        isCount(m.version) &&
        isStrings(m.topics) &&
        (m.reqId === undefined || isCount(m.reqId)) &&
        (m.to === undefined || isCount(m.to)) &&
        Array.isArray(m.sets) &&
        m.sets.every((s) => Array.isArray(s) && s.length === 2 && typeof s[0] === "string" && isEntries(s[1]))
      );
    default:
      return false;
  }
}
