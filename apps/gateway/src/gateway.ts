/**
 * @module
 * Mounts the Phoenix socket on a uWS app: `/socket/websocket`. Used by the gateway process
 * and by the standalone node. Owns the node's sockets: counts them, closes them in waves on
 * drain (socket/drainer.ts), and closes one user's sockets when the cluster says so (sign-out
 * everywhere).
 */
import type { Bus } from "@nexus/bus";
import type { TemplatedApp, WebSocket } from "@nexus/http";
import { createTracker, type Tracker } from "@nexus/presence";
import { CloseCode } from "@nexus/protocol";
import type { JsonObject } from "./channels/channel.js";
import type { Router } from "./channels/router.js";
import { createFanout, type Fanout, type SeqSource } from "./fanout/fanout.js";
import { CLOSE_AT_ONCE, type DrainOptions, runDrain } from "./socket/drainer.js";
import { type ChannelTask, Session, type SessionLogger } from "./socket/session.js";
import { createOriginCheck } from "./transport/origin.js";
import { type AuthResult, createUpgradeHandler } from "./transport/upgrade.js";

export interface GatewayOptions {
  router: Router;
  bus: Bus;
  log: SessionLogger & { info(obj: object, msg: string): void; debug(obj: object, msg: string): void };
  authenticate(token: string): Promise<AuthResult>;
  allowedOrigins: readonly string[] | null;
  /** Largest inbound frame; larger closes that socket with 1009. Seed 004: 64 KB. */
  maxFrameBytes?: number;
  /** Seconds without inbound data before the server closes the socket (Phoenix: 60). */
  idleTimeoutSeconds?: number;
  maxChannels?: number;
  /** Per-socket send buffer limit; a slower consumer is closed rather than buffered without bound. */
  maxBackpressureBytes?: number;
  path?: string;
  /** Where numbered broadcasts start and are read back from when one goes missing (fanout/seq-orderer.ts). */
  seqSource?: SeqSource;
  /** How long a silent node's presences survive on the others (DESIGN.md §4.6: 5 s). */
  presenceDownMs?: number;
  /** No other node can exist (standalone, in-process bus): presence does not wait for peers at boot. */
  presenceSolo?: boolean;
}

export interface GatewayStats {
  connections: number;
  connectsTotal: number;
  refusedTotal: number;
  slowConsumersClosed: number;
  droppedFrames: number;
  fanout: ReturnType<Fanout["stats"]>;
}

export interface DrainReport {
  /** Open when the drain began. */
  sockets: number;
  waves: number;
  /** Closed by the drain; the rest had closed by themselves before their wave. */
  closed: number;
  /** The timeout closed the rest at once. */
  cut: boolean;
}

export interface Gateway {
  fanout: Fanout;
  /** Cluster presence; close it (gracefully) after drain() so the other nodes drop this node's entries at once. */
  presence: Tracker;
  stats(): GatewayStats;
  /** Closes every socket of `userId` on this node (code 1001: the client may reconnect and be refused). */
  disconnectUser(userId: string): number;
  /**
   * Refuses new sockets (503) and closes every open one with 1012 (service restart) so clients
   * reconnect to another node, in waves (socket/drainer.ts); resolves after the last wave.
   * Control events keep acting meanwhile. Without options, every socket closes at once.
   */
  drain(options?: DrainOptions): Promise<DrainReport>;
  /**
   * Runs `task` in every channel of `userId` on this node whose topic `matches` (in each
   * channel's own order); returns how many channels it was queued for.
   */
  withChannels(userId: string, matches: (topic: string) => boolean, task: ChannelTask): number;
}

/**
 * Per-socket data. uWS copies it onto its socket object property by property, into storage
 * outside the object that grows by three slots at a time, so it is the session alone (which
 * holds what the upgrade decided); the socket itself is the session's connection.
 */
interface SocketData {
  session: Session;
  /** getBufferedAmount() when uWS last unsubscribed this socket from a topic (see `subscription`). */
  bufferedAtUnsubscribe?: number;
}
type Ws = WebSocket<SocketData>;

export const USERS_CONTROL_TOPIC = "nexus:users";

/**
 * uWS checks a frame's announced length against `maxPayloadLength` and, past it, drops the TCP
 * connection without a close frame (the client sees 1006). To answer an oversized frame with
 * 1009 as intended, uWS must accept it first, so it is allowed frames up to this size and the
 * gateway's own limit is enforced in `message`. Beyond it uWS's bare disconnect remains: buffering
 * ever larger frames just to refuse them politely is not worth the memory.
 */
const OVERSIZE_FRAME_CAP = 1024 * 1024;

export function mountGateway(app: TemplatedApp, opts: GatewayOptions): Gateway {
  const path = opts.path ?? "/socket";
  const maxFrame = opts.maxFrameBytes ?? 64 * 1024;
  const maxBackpressure = opts.maxBackpressureBytes ?? 1024 * 1024;
  const localPublish = (topic: string, data: string | Uint8Array, binary: boolean) =>
    void app.publish(topic, data, binary);
  const fanout = createFanout({
    local: { publish: localPublish, numSubscribers: (t) => app.numSubscribers(t) },
    bus: opts.bus,
    ...(opts.seqSource ? { seqSource: opts.seqSource } : {}),
    onError: (e) => opts.log.error({ err: e }, "filling a broadcast gap from the database failed"),
  });
  // Each node renders presence diffs from its own view and delivers them to its own sockets only
  // (PROTOCOL.md §6.3); the tracker replicates the underlying state between nodes.
  const presence = createTracker({
    bus: opts.bus,
    onDiff: (topic, diff) => fanout.broadcastLocal(topic, "presence_diff", diff as unknown as JsonObject),
    ...(opts.presenceDownMs !== undefined ? { downPeriodMs: opts.presenceDownMs } : {}),
    ...(opts.presenceSolo !== undefined ? { solo: opts.presenceSolo } : {}),
    logger: opts.log,
  });
  // Most users hold one socket: it is stored as is, and a Set only appears for a second one.
  const byUser = new Map<string, Ws | Set<Ws>>();
  const socketsOf = (userId: string): Ws[] => {
    const mine = byUser.get(userId);
    return mine === undefined ? [] : mine instanceof Set ? [...mine] : [mine];
  };
  let connectsTotal = 0;
  let refusedTotal = 0;
  let slowConsumersClosed = 0;
  let droppedFrames = 0;
  let connections = 0;
  let draining = false;
  const sessionDeps = {
    router: opts.router,
    fanout,
    log: opts.log,
    maxChannels: opts.maxChannels ?? 100,
    onDropped: () => {
      droppedFrames++;
    },
    presence,
  };

  app.ws<SocketData>(`${path}/websocket`, {
    // Oversized frames must still arrive to be refused with 1009 (see OVERSIZE_FRAME_CAP).
    maxPayloadLength: Math.max(maxFrame + 1, OVERSIZE_FRAME_CAP),
    idleTimeout: opts.idleTimeoutSeconds ?? 60,
    // Phoenix has no WebSocket pings: liveness is the client's heartbeat, so a silent client times out.
    sendPingsAutomatically: false,
    maxBackpressure,
    closeOnBackpressureLimit: 1,
    upgrade: createUpgradeHandler<SocketData>({
      authenticate: opts.authenticate,
      accept: ({ userId, serializer, params }) => ({
        session: new Session(serializer, userId, params, sessionDeps),
      }),
      originAllowed: createOriginCheck(opts.allowedOrigins),
      draining: () => draining,
      onRefused: (reason, detail) => {
        refusedTotal++;
        opts.log.debug({ reason, ...detail }, "socket refused");
      },
    }),
    open(ws) {
      const { session } = ws.getUserData();
      session.open(ws);
      connections++;
      connectsTotal++;
      const mine = byUser.get(session.userId);
      if (mine === undefined) byUser.set(session.userId, ws);
      else if (mine instanceof Set) mine.add(ws);
      else byUser.set(session.userId, new Set([mine, ws]));
    },
    message(ws, message, isBinary) {
      if (message.byteLength > maxFrame) {
        ws.end(CloseCode.MessageTooBig, "frame too large");
        return;
      }
      ws.getUserData().session.receive(message, isBinary);
    },
    // When uWS drops a connection (1006) it unsubscribes the socket from its topics just before
    // `close`, while the socket can still be read: the last look at its send buffer. `close`
    // itself may not touch the socket (uWS throws, and a throw in a uWS callback kills the
    // process). After our own `end()` the socket is already unreadable here, and that is no
    // backpressure close, so the throw is expected and ignored.
    subscription(ws, _topic, newCount, oldCount) {
      if (newCount >= oldCount) return;
      try {
        ws.getUserData().bufferedAtUnsubscribe = ws.getBufferedAmount();
      } catch {
        // closed by end()
      }
    },
    close(ws, code) {
      const { session, bufferedAtUnsubscribe } = ws.getUserData();
      const { userId } = session;
      connections--;
      // A consumer over maxBackpressure is cut by uWS with a bare 1006, like any dropped TCP
      // connection; what tells it apart is a send of ours that uWS refused (a reply or push) or
      // a send buffer over the limit when uWS unsubscribed it (broadcasts).
      if (code === 1006 && (session.refusedSends > 0 || (bufferedAtUnsubscribe ?? 0) > maxBackpressure)) {
        slowConsumersClosed++;
      }
      session.closed();
      const mine = byUser.get(userId);
      if (mine === ws) byUser.delete(userId);
      else if (mine instanceof Set) {
        mine.delete(ws);
        if (mine.size === 1) byUser.set(userId, mine.values().next().value!);
      }
    },
  });
  // Phoenix: a non-upgrade request to the socket path is a 400.
  app.any(`${path}/websocket`, (res) => {
    res.writeStatus("400 Bad Request").end();
  });

  const isOpen = (ws: Ws, userId: string) => {
    const mine = byUser.get(userId);
    return mine === ws || (mine instanceof Set && mine.has(ws));
  };

  const disconnectUser = (userId: string) => {
    const all = socketsOf(userId);
    for (const ws of all) ws.end(CloseCode.GoingAway, "disconnect");
    return all.length;
  };

  // Sign-out everywhere reaches every node; only the ones holding that user's sockets act.
  void opts.bus
    .subscribe(USERS_CONTROL_TOPIC, (msg) => {
      if (msg.kind === "control" && msg.action === "disconnect_user" && typeof msg.data === "string") {
        const n = disconnectUser(msg.data);
        if (n > 0) opts.log.info({ userId: msg.data, sockets: n }, "user disconnected by cluster event");
      }
    })
    .catch((e) => opts.log.error({ err: e }, "could not subscribe to user control events"));

  return {
    fanout,
    presence,
    stats: () => ({
      connections,
      connectsTotal,
      refusedTotal,
      slowConsumersClosed,
      droppedFrames,
      fanout: fanout.stats(),
    }),
    disconnectUser,
    withChannels(userId, matches, task) {
      let n = 0;
      for (const ws of socketsOf(userId)) {
        n += ws.getUserData().session.withChannels(matches, task);
      }
      return n;
    },
    async drain(options = CLOSE_AT_ONCE) {
      draining = true;
      // Taken now, each with its user id: by its wave a socket may have closed by itself (the
      // client left, sign-out everywhere), and a closed uWS socket may not be touched (it throws),
      // so it is looked up in byUser instead and skipped when gone.
      const open: Array<[Ws, string]> = [];
      for (const [userId] of byUser) for (const ws of socketsOf(userId)) open.push([ws, userId]);
      let closed = 0;
      const { waves, cut } = await runDrain(open, options, {
        close(batch, wave) {
          let n = 0;
          for (const [ws, userId] of batch) {
            if (!isOpen(ws, userId)) continue;
            ws.end(CloseCode.ServiceRestart, "draining");
            n++;
          }
          closed += n;
          opts.log.info({ wave: wave + 1, closed: n, stillOpen: connections }, "drain wave");
        },
      });
      return { sockets: open.length, waves, closed, cut };
    },
  };
}
