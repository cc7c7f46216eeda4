/**
 * @module
 * Broadcast delivery on one node, and the bridge to the others (DESIGN.md §8).
 *
 * Locally every Phoenix topic has one uWS topic per serializer (`1|chat:x`, `2|chat:x`): a
 * broadcast is encoded once per serializer that has subscribers and handed to uWS's native
 * publish, with no JavaScript loop over sockets. Remotely it is one bus publish carrying the
 * payload as JSON text, which receiving nodes splice into their frames without re-parsing.
 * A node holds the bus subscription for a topic only while it has local members on it.
 *
 * Some topics carry broadcasts addressed per recipient (an end-to-end-encrypted message is one
 * ciphertext per member): each socket on such a topic is also subscribed to its own uWS topic
 * `2|conversation:x#<user>`, and a per-recipient broadcast is one bus message carrying every
 * recipient's payload, published locally to each recipient's uWS topic. That loop is over
 * recipients, not sockets, and is the only per-message JavaScript loop on the delivery path.
 */
import type { Bus, BusMessage, NodeId, Unsubscribe } from "@nexus/bus";
import {
  EncodeError,
  type Frame,
  type Serializer,
  type Vsn,
  v1JsonSerializer,
  v2JsonSerializer,
} from "@nexus/protocol";
import type { JsonObject } from "../channels/channel.js";
import type { Connection } from "../socket/connection.js";
import { SeqOrderer } from "./seq-orderer.js";

export interface LocalPublisher {
  publish(localTopic: string, data: string | Uint8Array, binary: boolean): void;
  numSubscribers(localTopic: string): number;
}

export interface FanoutStats {
  /** Broadcasts originated on this node. */
  broadcasts: number;
  /** Broadcasts received from other nodes. */
  remoteBroadcasts: number;
  /** Topics with local members (each holds one bus subscription). */
  topics: number;
  /** Numbered broadcasts that arrived ahead of a gap which stayed open, so were read from Postgres. */
  gapsFilled: number;
}

/** A numbered broadcast read back from the database to close a gap (see seq-orderer.ts). */
export interface StoredBroadcast {
  seq: number;
  event: string;
  /** JSON text of the payload, exactly as the live broadcast carried it. */
  payload: string;
  /** Per recipient: `payload` maps user ids to each one's payload JSON text (see broadcastEach). */
  each?: true;
}

/** Where numbered broadcasts (a conversation's messages) are kept: Postgres. */
export interface SeqSource {
  /** The last seq committed on `topic` so far; undefined for topics without numbered broadcasts. */
  lastSeq(topic: string): Promise<number | undefined>;
  /** The numbered broadcasts [from, to] of `topic` that exist (deleted ones may be missing). */
  read(topic: string, from: number, to: number): Promise<StoredBroadcast[]>;
}

const NO_SEQ_SOURCE: SeqSource = { lastSeq: async () => undefined, read: async () => [] };

export interface Fanout {
  localTopic(vsn: Vsn, topic: string): string;
  /** The uWS topic a member of a per-recipient topic also subscribes to: what is addressed to `userId` alone. */
  recipientTopic(vsn: Vsn, topic: string, userId: string): string;
  /** Counts a local member; the first one subscribes on the bus. Resolves when delivery from other nodes is live. */
  acquire(topic: string): Promise<void>;
  release(topic: string): void;
  /** The node's copy of `topic` if it has local members on it, else `topic` itself. */
  intern(topic: string): string;
  /** To every subscriber of `topic` on every node; `except` (a local connection) is skipped. */
  broadcast(topic: string, event: string, payload: JsonObject | Uint8Array, except?: Connection): void;
  /** Like broadcast, delivered on every node in `seq` order (gaps are filled from the database). */
  broadcastSeq(topic: string, event: string, payload: JsonObject, seq: number): void;
  /**
   * Each recipient's own payload, to that user's sockets on `topic` on every node (sockets of
   * users not in `payloads` get nothing). With `seq`, ordered like broadcastSeq.
   */
  broadcastEach(topic: string, event: string, payloads: ReadonlyMap<string, JsonObject>, seq?: number): void;
  /** Node-local delivery only (e.g. presence diffs, which every node computes for itself). */
  broadcastLocal(topic: string, event: string, payload: JsonObject): void;
  stats(): FanoutStats;
}

function checkObject(payload: unknown): void {
  if (typeof payload !== "object" || payload === null || Array.isArray(payload)) {
    const got = payload === null ? "null" : Array.isArray(payload) ? "array" : typeof payload;
    throw new EncodeError("not_an_object", `broadcast payload must be a JSON object or binary, got ${got}`);
  }
}

const SERIALIZERS: readonly Serializer[] = [v1JsonSerializer, v2JsonSerializer];
const PREFIX: Record<Vsn, string> = { "1.0.0": "1|", "2.0.0": "2|" };

/** What the orderer holds: one payload for all, or (per recipient) each user's payload JSON text. */
type Item =
  | { event: string; json: string; each?: undefined }
  | { event: string; each: Record<string, string> };

interface Held {
  /** The topic string itself, handed out by intern() so that members share it. */
  topic: string;
  count: number;
  /** The topic's starting seq is known (read before subscribing). */
  started: Promise<void>;
  /** The bus subscription is live. */
  ready: Promise<Unsubscribe>;
}

export function createFanout({
  local,
  bus,
  onRemote,
  seqSource = NO_SEQ_SOURCE,
  gapTimeoutMs = 100,
  onError,
}: {
  local: LocalPublisher;
  bus: Bus;
  /** Observes broadcasts from other nodes (metrics, tests); delivery does not depend on it. */
  onRemote?: (msg: BusMessage<"broadcast">, from: NodeId) => void;
  /** Where numbered broadcasts start and where missing ones are read from. */
  seqSource?: SeqSource;
  /** How long an early numbered broadcast waits for the ones before it before the gap is filled. */
  gapTimeoutMs?: number;
  onError?: (e: unknown) => void;
}): Fanout {
  const held = new Map<string, Held>();
  let broadcasts = 0;
  let remoteBroadcasts = 0;
  let gapsFilled = 0;

  const localTopic = (vsn: Vsn, topic: string) => PREFIX[vsn] + topic;

  // A join waits for the subscription to be live, so nothing broadcast after its reply is
  // missed. While the broker is down that could take minutes and would freeze the socket (a
  // join blocks it); then the join goes ahead: the bus subscribes when it reconnects, and the
  // numbered broadcasts missed meanwhile are filled in from Postgres.
  const settled = (h: Held): Promise<void> => (bus.isReady() ? h.ready.then(() => undefined) : h.started);

  /** `suffix` picks a recipient's own uWS topic (`#<user>`); the frame still names `topic`. */
  const publishEncoded = (
    topic: string,
    encode: (s: Serializer) => Frame,
    except?: Connection,
    suffix = "",
  ) => {
    for (const s of SERIALIZERS) {
      const lt = PREFIX[s.vsn] + topic + suffix;
      if (local.numSubscribers(lt) === 0) continue;
      let frame: Frame;
      try {
        frame = encode(s);
      } catch {
        continue; // e.g. a binary payload has no V1 form: V1 sockets cannot receive it
      }
      // uWS's ws.publish silently publishes nothing when the sender holds no subscription at
      // all (e.g. broadcast_from in a first join, or in terminate after the last leave). A
      // socket not subscribed to this topic would not get an app-wide publish anyway.
      if (except?.isSubscribed(lt)) except.publish(lt, frame.data, frame.binary);
      else local.publish(lt, frame.data, frame.binary);
    }
  };

  const publishJson = (topic: string, event: string, json: string) =>
    publishEncoded(topic, (s) => s.encodeBroadcastJson(topic, event, json));

  const publishEach = (topic: string, event: string, each: Record<string, string>) => {
    for (const userId in each) {
      const one = each[userId]!;
      publishEncoded(topic, (s) => s.encodeBroadcastJson(topic, event, one), undefined, `#${userId}`);
    }
  };

  const deliver = (topic: string, b: Item) =>
    b.each ? publishEach(topic, b.event, b.each) : publishJson(topic, b.event, b.json);

  /** The bus form of a broadcast (per-recipient payloads travel as one JSON object of JSON texts). */
  const itemOf = (event: string, json: string, each: boolean): Item | undefined => {
    if (!each) return { event, json };
    let parsed: unknown;
    try {
      parsed = JSON.parse(json);
    } catch (e) {
      onError?.(e);
      return undefined;
    }
    if (typeof parsed !== "object" || parsed === null) return undefined;
    const out: Record<string, string> = {};
    for (const [userId, one] of Object.entries(parsed)) if (typeof one === "string") out[userId] = one;
    return { event, each: out };
  };

  const orderer = new SeqOrderer<Item>({
    gapTimeoutMs,
    deliver,
    fillGap: async (topic, from, to) =>
      (await seqSource.read(topic, from, to)).flatMap((b) => {
        const item = itemOf(b.event, b.payload, b.each === true);
        return item ? [{ seq: b.seq, item }] : [];
      }),
    onGap: () => {
      gapsFilled++;
    },
    onError,
  });

  const onBus = (msg: BusMessage) => {
    if (msg.kind !== "broadcast") return;
    remoteBroadcasts++;
    const item = itemOf(msg.event, msg.payload, msg.each === true);
    if (!item) return;
    if (msg.seq !== undefined) orderer.offer(msg.topic, msg.seq, item);
    else orderer.after(msg.topic, item);
  };

  return {
    localTopic,
    recipientTopic: (vsn, topic, userId) => `${PREFIX[vsn]}${topic}#${userId}`,

    acquire(topic) {
      const existing = held.get(topic);
      if (existing) {
        existing.count++;
        return settled(existing);
      }
      // The starting seq is read BEFORE subscribing: a message committed in between is then
      // above the start, and comes over the bus or, if the bus missed it, from Postgres.
      const started = seqSource.lastSeq(topic).then((last) => {
        if (last !== undefined && held.get(topic) === entry) orderer.start(topic, last + 1);
      });
      const ready = started.then(() =>
        bus.subscribe(topic, (msg, from) => {
          onBus(msg);
          if (onRemote && msg.kind === "broadcast") onRemote(msg, from);
        }),
      );
      const entry: Held = { topic, count: 1, started, ready };
      held.set(topic, entry);
      return settled(entry).catch((e) => {
        // Nobody holds a failed subscription: the next member will try again.
        if (held.get(topic) === entry) held.delete(topic);
        throw e;
      });
    },

    intern(topic) {
      return held.get(topic)?.topic ?? topic;
    },

    release(topic) {
      const h = held.get(topic);
      if (!h) return;
      if (--h.count > 0) return;
      held.delete(topic);
      orderer.forget(topic);
      void h.ready.then(
        (unsubscribe) => unsubscribe(),
        () => {},
      );
    },

    broadcast(topic, event, payload, except) {
      // Checked here, not only when encoding: encoding happens only for serializers that have
      // local subscribers, and a bad payload must fail the calling channel (Phoenix raises, and
      // the channel crashes) whether or not anyone is listening on this node.
      if (!(payload instanceof Uint8Array)) checkObject(payload);
      broadcasts++;
      if (payload instanceof Uint8Array) {
        // Binary broadcasts stay on this node: the bus carries JSON text only.
        publishEncoded(topic, (s) => s.encodeBroadcast(topic, event, payload), except);
        return;
      }
      const json = JSON.stringify(payload);
      // Behind any numbered broadcast still waiting here (see SeqOrderer.after); a broadcast_from
      // is delivered at once (it names a live socket to skip, and is never an edit).
      if (except) publishEncoded(topic, (s) => s.encodeBroadcastJson(topic, event, json), except);
      else orderer.after(topic, { event, json });
      bus.publish(topic, { kind: "broadcast", topic, event, payload: json });
    },

    broadcastSeq(topic, event, payload, seq) {
      checkObject(payload);
      broadcasts++;
      const json = JSON.stringify(payload);
      // Our own message goes through the orderer too: a message from another node with a
      // lower seq may still be on its way, and local members must see them in order.
      orderer.offer(topic, seq, { event, json });
      bus.publish(topic, { kind: "broadcast", topic, event, payload: json, seq });
    },

    broadcastEach(topic, event, payloads, seq) {
      const each: Record<string, string> = {};
      for (const [userId, payload] of payloads) {
        checkObject(payload);
        each[userId] = JSON.stringify(payload);
      }
      broadcasts++;
      const item: Item = { event, each };
      if (seq !== undefined) orderer.offer(topic, seq, item);
      else orderer.after(topic, item);
      bus.publish(topic, {
        kind: "broadcast",
        topic,
        event,
        payload: JSON.stringify(each),
        each: true,
        ...(seq !== undefined ? { seq } : {}),
      });
    },

    broadcastLocal(topic, event, payload) {
      const json = JSON.stringify(payload);
      publishEncoded(topic, (s) => s.encodeBroadcastJson(topic, event, json));
    },

    stats: () => ({ broadcasts, remoteBroadcasts, topics: held.size, gapsFilled }),
  };
}
