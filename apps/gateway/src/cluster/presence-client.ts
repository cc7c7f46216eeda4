/**
 * @module
 * The official phoenix `Socket` + `Presence` pointed at one gateway process, for process-level
 * presence tests. Each client records what its `Presence` told the app (onJoin/onLeave/onSync,
 * per channel incarnation), every raw `presence_state` and `presence_diff` payload, and whether
 * the test wants it joined, so a test can compare every view with the ground truth.
 */
import { waitFor } from "@nexus/testkit";
import { type Channel, Presence, Socket } from "phoenix";
import WebSocket from "ws";
import { tokenFor } from "./fixtures.js";

export interface Meta {
  phx_ref: string;
  phx_ref_prev?: string;
  online_at?: string;
  sid?: string;
  [field: string]: unknown;
}
export type PresenceMap = Record<string, { metas: Meta[] }>;

export type PresenceEvent =
  /** `had`: the key's meta count before (0: onJoin's current was undefined). */
  | { kind: "join"; key: string; had: number; refs: string[] }
  /** `left`: the key's meta count after the leave. */
  | { kind: "leave"; key: string; left: number; refs: string[] }
  | { kind: "sync" }
  /** A presence_state arrived: its callbacks, then the diffs buffered before it, then one sync. */
  | { kind: "state" };

const clone = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T;
const byKey = <T>(entries: Array<[string, T]>) => entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));

export interface PresenceClientOptions {
  /** Put `{sid: label}` in this client's meta (update_presence) after every (re)join, to tell its meta apart. */
  sid?: boolean;
}

export class PresenceClient {
  readonly socket: Socket;
  channel!: Channel;
  presence!: Presence;
  /** Presence callbacks of the current channel incarnation (a new channel after leave() starts a new list). */
  events: PresenceEvent[] = [];
  /** Raw presence_state payloads, every incarnation, with the channel's join_ref when it arrived. */
  readonly states: Array<{ joinRef: string; payload: PresenceMap }> = [];
  readonly diffs: Array<{ joins: PresenceMap; leaves: PresenceMap }> = [];
  /** Wire-format violations seen in raw payloads (PROTOCOL.md §6.1, §6.4 rule 6). */
  readonly violations: string[] = [];
  /** Ground truth: the test wants this client joined right now. */
  wanted = false;

  constructor(
    readonly label: string,
    readonly userId: string,
    socketUrl: string,
    readonly topic: string,
    private readonly opts: PresenceClientOptions = {},
  ) {
    this.socket = new Socket(socketUrl, {
      params: { token: tokenFor(userId) },
      transport: WebSocket as unknown as typeof globalThis.WebSocket,
      reconnectAfterMs: () => 50,
      rejoinAfterMs: () => 50,
    });
    this.socket.connect();
  }

  /** Joins a fresh channel (and Presence) on the socket; resolves once the join is ok and the first state arrived. */
  async join(): Promise<void> {
    this.wanted = true;
    const channel = this.socket.channel(this.topic, {});
    const events: PresenceEvent[] = [];
    // Registered before the Presence's own bindings: syncState mutates the payload it is given.
    channel.on("presence_state", (payload: PresenceMap) => {
      this.states.push({
        joinRef: (channel as unknown as { joinRef(): string }).joinRef(),
        payload: clone(payload),
      });
      events.push({ kind: "state" });
      this.#check("presence_state", payload);
    });
    channel.on("presence_diff", (diff: { joins: PresenceMap; leaves: PresenceMap }) => {
      this.diffs.push(clone(diff));
      if (!diff || typeof diff !== "object" || !diff.joins || !diff.leaves) {
        this.violations.push(`diff without joins/leaves: ${JSON.stringify(diff)}`);
        return;
      }
      this.#check("diff joins", diff.joins);
      this.#check("diff leaves", diff.leaves);
      if (Object.keys(diff.joins).length === 0 && Object.keys(diff.leaves).length === 0) {
        this.violations.push("empty diff");
      }
    });
    const presence = new Presence(channel);
    presence.onJoin((key, current, joined) => {
      events.push({
        kind: "join",
        key: String(key),
        had: current ? (current.metas as Meta[]).length : 0,
        refs: (joined.metas as Meta[]).map((m) => m.phx_ref),
      });
    });
    presence.onLeave((key, current, left) => {
      events.push({
        kind: "leave",
        key: String(key),
        left: (current.metas as Meta[]).length,
        refs: (left.metas as Meta[]).map((m) => m.phx_ref),
      });
    });
    presence.onSync(() => {
      events.push({ kind: "sync" });
    });
    this.channel = channel;
    this.presence = presence;
    this.events = events;
    await new Promise<void>((resolve, reject) => {
      channel
        .join()
        .receive("ok", () => {
          // Every (re)join tracks a fresh meta: tag it again (queued behind the track on the server).
          if (this.opts.sid) channel.push("update_presence", { sid: this.label });
          resolve();
        })
        .receive("error", (e: unknown) =>
          reject(new Error(`${this.label}: join refused ${JSON.stringify(e)}`)),
        )
        .receive("timeout", () => reject(new Error(`${this.label}: join timed out`)));
    });
    await waitFor(() => this.synced(), { what: `${this.label}: first presence_state` });
  }

  #check(where: string, map: PresenceMap): void {
    if (!map || typeof map !== "object") {
      this.violations.push(`${where}: not an object`);
      return;
    }
    for (const [key, p] of Object.entries(map)) {
      if (!p || !Array.isArray(p.metas)) this.violations.push(`${where}: ${key} without metas`);
      else if (p.metas.length === 0) this.violations.push(`${where}: ${key} with empty metas`);
      else if (p.metas.some((m) => typeof m.phx_ref !== "string"))
        this.violations.push(`${where}: ${key} meta without phx_ref`);
    }
  }

  /** Joined on an open socket, and the Presence holds the state pushed for the current join. */
  synced(): boolean {
    return (
      this.socket.isConnected() && this.channel.state === "joined" && !this.presence.inPendingSyncState()
    );
  }

  /** key → sorted refs, from the client's own Presence list. */
  view(): Record<string, string[]> {
    const pairs: Array<[string, string[]]> = [];
    this.presence.list((key, p: { metas: Meta[] }) => {
      pairs.push([key, p.metas.map((m) => m.phx_ref).sort()]);
    });
    return Object.fromEntries(byKey(pairs));
  }

  /** key → sorted sids (`?` for a meta without one). */
  sids(): Record<string, string[]> {
    const pairs: Array<[string, string[]]> = [];
    this.presence.list((key, p: { metas: Meta[] }) => {
      pairs.push([key, p.metas.map((m) => m.sid ?? "?").sort()]);
    });
    return Object.fromEntries(byKey(pairs));
  }

  metas(key: string): Meta[] {
    let out: Meta[] = [];
    this.presence.list((k, p: { metas: Meta[] }) => {
      if (k === key) out = p.metas;
    });
    return out;
  }

  /** Leaves the channel (phx_leave); resolves on the reply. */
  leave(): Promise<void> {
    this.wanted = false;
    return new Promise((resolve, reject) => {
      this.channel
        .leave()
        .receive("ok", () => resolve())
        .receive("timeout", () => reject(new Error(`${this.label}: leave timed out`)));
    });
  }

  /** Drops the TCP connection without a close frame; the client reconnects and rejoins by itself. */
  drop(): void {
    const conn = (this.socket as unknown as { connection?: { transport?: WebSocket } }).connection;
    conn?.transport?.terminate();
  }

  /** Closes the socket for good. */
  close(): void {
    this.wanted = false;
    this.socket.disconnect();
  }
}

/** The ground truth: user → how many of `clients` the test wants joined. */
export function expectedCounts(clients: readonly PresenceClient[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const c of clients) if (c.wanted) out[c.userId] = (out[c.userId] ?? 0) + 1;
  return Object.fromEntries(byKey(Object.entries(out)));
}

/** user → sorted labels of the clients the test wants joined. */
export function expectedSids(clients: readonly PresenceClient[]): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const c of clients) if (c.wanted) out[c.userId] = [...(out[c.userId] ?? []), c.label];
  for (const v of Object.values(out)) v.sort();
  return Object.fromEntries(byKey(Object.entries(out)));
}

const shape = (v: Record<string, string[]>) =>
  JSON.stringify(Object.fromEntries(Object.entries(v).map(([k, refs]) => [k, refs.length])));

/**
 * Waits until every wanted client among `clients` is synced and shows the ground truth (keys and
 * meta counts; with `sids`, exactly which clients' metas), the same refs on all of them.
 * Returns the common view.
 */
export async function converged(
  clients: readonly PresenceClient[],
  opts: { sids?: boolean; timeoutMs?: number; what?: string } = {},
): Promise<Record<string, string[]>> {
  const live = clients.filter((c) => c.wanted);
  const want = JSON.stringify(expectedCounts(clients));
  const wantSids = JSON.stringify(expectedSids(clients));
  const ok = () => {
    if (!live.every((c) => c.synced())) return false;
    const views = live.map((c) => JSON.stringify(c.view()));
    if (!views.every((v) => v === views[0])) return false;
    if (shape(live[0]!.view()) !== want) return false;
    return !opts.sids || live.every((c) => JSON.stringify(c.sids()) === wantSids);
  };
  await waitFor(ok, {
    what: opts.what ?? "identical presence lists",
    timeoutMs: opts.timeoutMs ?? 10_000,
  }).catch((e: Error) => {
    const detail = live.map(
      (c) =>
        `${c.label}${c.synced() ? "" : " (not synced)"}: ${JSON.stringify(opts.sids ? c.sids() : c.view())}`,
    );
    throw new Error(
      `${e.message}\nexpected ${opts.sids ? wantSids : want}\n${detail.join("\n")}\nrefs ${JSON.stringify(live.map((c) => c.view()))}`,
    );
  });
  return live[0]!.view();
}

/**
 * What a client's callbacks got wrong for one channel incarnation, ref by ref, against what
 * Phoenix guarantees: each ref joins once (no flicker, refs stable across snapshots), leaves at
 * most once and only after its join, and never comes back, except (`revive`) a replica declared
 * down and heard again, whose entries come back with the same refs.
 */
export function refAnomalies(events: readonly PresenceEvent[], opts: { revive?: boolean } = {}): string[] {
  const present = new Set<string>();
  const gone = new Set<string>();
  const out: string[] = [];
  for (const e of events) {
    if (e.kind === "join") {
      for (const r of e.refs) {
        if (present.has(r)) out.push(`join of present ref ${r} (${e.key})`);
        else if (gone.has(r) && !opts.revive) out.push(`join of a ref that had left ${r} (${e.key})`);
        present.add(r);
        gone.delete(r);
      }
    } else if (e.kind === "leave") {
      for (const r of e.refs) {
        if (!present.has(r)) out.push(`leave of absent ref ${r} (${e.key})`);
        present.delete(r);
        gone.add(r);
      }
    }
  }
  return out;
}

/**
 * Callbacks that changed nothing, fired while the client applied the diffs it buffered before a
 * presence_state (between the "state" marker and the next sync) that the state already
 * reflected: joins of refs it already holds, leaves of refs it does not hold. PROTOCOL.md §6.4
 * rule 3 allows them for changes made between the subscribe and the snapshot (a diff counted
 * twice), and Phoenix has them too. KNOWN BUG: today they also come with no change at all, see
 * the KNOWN BUG test in presence.int.test.ts.
 */
export function doubleCounted(events: readonly PresenceEvent[]): PresenceEvent[] {
  const present = new Set<string>();
  const out: PresenceEvent[] = [];
  let inState = false;
  for (const e of events) {
    if (e.kind === "state") inState = true;
    else if (e.kind === "sync") inState = false;
    else if (e.kind === "join") {
      if (inState && e.had > 0 && e.refs.every((r) => present.has(r))) out.push(e);
      for (const r of e.refs) present.add(r);
    } else {
      if (inState && e.refs.every((r) => !present.has(r))) out.push(e);
      for (const r of e.refs) present.delete(r);
    }
  }
  return out;
}

/** `events` from index `from` on, without the double-counted callbacks (judged on the whole history). */
export function withoutDoubleCounts(events: readonly PresenceEvent[], from = 0): PresenceEvent[] {
  const skip = new Set(doubleCounted(events));
  return events.slice(from).filter((e) => !skip.has(e));
}
