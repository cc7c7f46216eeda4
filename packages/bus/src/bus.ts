/**
 * @module
 * The cluster bus seam: tagged envelopes from one gateway node to the others. Delivery is
 * at-most-once and best effort (Postgres is the truth); publishing never blocks the caller.
 */

/** Stable for the life of a process and unique in the cluster; no whitespace (it is on the wire and in CLIENT SETNAME). */
export type NodeId = string;

/**
 * Message bodies by kind. Other packages add kinds by augmentation, and the mapped `BusMessage`
 * below stamps each body with its own `kind`, so every switch over `msg.kind` stays exhaustive:
 *
 * ```ts
 * declare module "@nexus/bus" {
 *   interface BusMessageTypes { heartbeat: { topic: string; clock: number } }
 * }
 * ```
 * Bodies must survive a JSON round trip (no `undefined` inside arrays, no Map/Date/BigInt):
 * the memory bus encodes like the wire does, so unit tests catch violations.
 */
export interface BusMessageTypes {
  /**
   * A channel broadcast. `payload` is already-serialized JSON: it travels verbatim and
   * receivers splice it into frames without parsing or re-stringifying it.
   */
  broadcast: {
    topic: string;
    event: string;
    payload: string;
    exceptConn?: string;
    /** The message's position in its conversation, when it has one: receivers deliver in seq order. */
    seq?: number;
    /**
     * Addressed per recipient: `payload` is a JSON object mapping each recipient's user id to
     * the JSON text of what that user alone receives (one ciphertext per member, DESIGN.md §4.5).
     */
    each?: true;
  };
  /** Cluster housekeeping, e.g. action "disconnect_user" or "membership_invalidated". */
  control: { topic: string; action: string; data?: unknown };
}

export type BusMessageKind = keyof BusMessageTypes;

/** `BusMessage` is the whole union; `BusMessage<"broadcast">` is one variant. */
export type BusMessage<K extends BusMessageKind = BusMessageKind> = {
  [P in K]: { kind: P } & BusMessageTypes[P];
}[K];

export type BusHandler = (msg: BusMessage, from: NodeId) => void;

/** Removes one subscription; resolves once the broker has dropped the topic (if it was the last handler). */
export type Unsubscribe = () => Promise<void>;

export interface BusStats {
  /** Handed to the broker connection (not acknowledged: pub/sub has no delivery receipts). */
  published: number;
  /** Envelopes from other nodes decoded on this node, whether or not a handler still wanted them. */
  received: number;
  droppedOwnEcho: number;
  /** Publishes dropped because the broker was down or rejected them. */
  publishErrors: number;
  /** Envelopes from the wire that failed to decode; counted and skipped. */
  decodeErrors: number;
  /** Handler invocations that threw; the other handlers still ran. */
  handlerErrors: number;
  /** Topics this node holds (≥1 local handler); each has exactly one broker subscription once settled. */
  subscribedTopics: number;
}

export interface Bus {
  readonly nodeId: NodeId;
  /** To every OTHER node subscribed to `topic`. Non-blocking: never awaits per message; errors are counted, not thrown. */
  publish(topic: string, msg: BusMessage): void;
  /**
   * Resolves once the broker has acknowledged a subscription that covers this handler, so a
   * message another node publishes after that is delivered. While the broker is down it waits
   * for the reconnect; it rejects only if the bus is closed (or the broker refuses). Several
   * handlers per topic are allowed; the broker subscription lives while ≥1 handler does. The
   * handler runs synchronously in receive order and must not throw (throws are counted).
   */
  subscribe(topic: string, handler: BusHandler): Promise<Unsubscribe>;
  /** Able to publish and receive right now (both connections up and every held topic resubscribed). */
  isReady(): boolean;
  /** Called on every transition of `isReady()`; returns a function that removes the listener. */
  onReadyChange(cb: (ready: boolean) => void): () => void;
  stats(): BusStats;
  /** Idempotent. Pending subscribes reject; later publishes are dropped silently. */
  close(): Promise<void>;
}

/** Minimal pino-compatible logger: the bus never depends on a logging library. */
export interface BusLogger {
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
  info?(obj: object, msg: string): void;
}

/** Resolves when `bus.isReady()`; rejects after `timeoutMs`. For composition roots that must not serve before the bus is up. */
export function whenReady(bus: Bus, timeoutMs = 10_000): Promise<void> {
  if (bus.isReady()) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(new Error(`bus ${bus.nodeId} not ready after ${timeoutMs} ms`));
    }, timeoutMs);
    const off = bus.onReadyChange((ready) => {
      if (!ready) return;
      clearTimeout(timer);
      off();
      resolve();
    });
  });
}

/** Throws at construction: a node id goes on the wire before a newline and into CLIENT SETNAME. */
export function assertNodeId(nodeId: NodeId): void {
  if (!/^[\x21-\x7e]{1,128}$/.test(nodeId)) {
    throw new Error(
      `bus: expected nodeId of 1-128 printable ASCII characters without spaces, got ${JSON.stringify(nodeId)}`,
    );
  }
}
