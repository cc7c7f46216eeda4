/**
 * @module
 * One user's Phoenix V2 socket on one gateway, for the end-to-end-encrypted conversation and
 * system:general tests: join, push and await the reply, and read what arrived per topic.
 */
import { waitFor } from "@nexus/testkit";
import { Presence } from "phoenix";
import { RawSocket } from "./fixtures.js";

export type Reply = { status: string; response: Record<string, unknown> };

export class MemberSocket {
  readonly #joinRefs = new Map<string, string>();

  private constructor(
    readonly userId: string,
    readonly raw: RawSocket,
  ) {}

  static async open(socketUrl: string, userId: string): Promise<MemberSocket> {
    return new MemberSocket(userId, await RawSocket.open(socketUrl, userId));
  }

  /** Pushes and resolves with the reply (phx_reply payload). */
  async call(topic: string, event: string, payload: object = {}): Promise<Reply> {
    const ref = this.raw.push(this.#joinRefs.get(topic) ?? null, topic, event, payload);
    const frame = await waitFor(() => this.raw.replyTo(ref), { what: `a reply to ${event} on ${topic}` });
    return frame[4] as Reply;
  }

  async join(topic: string, payload: object = {}): Promise<Reply> {
    const joinRef = String(Math.random()).slice(2, 10);
    const ref = this.raw.push(joinRef, topic, "phx_join", payload);
    const frame = await waitFor(() => this.raw.replyTo(ref), { what: `the join reply for ${topic}` });
    const reply = frame[4] as Reply;
    if (reply.status === "ok") this.#joinRefs.set(topic, joinRef);
    return reply;
  }

  /** Payloads of `event` pushed or broadcast to this socket on `topic`, in arrival order. */
  received(topic: string, event: string): Array<Record<string, unknown>> {
    return this.raw.frames
      .filter((f) => f[2] === topic && f[3] === event)
      .map((f) => f[4] as Record<string, unknown>);
  }

  async waitFor(topic: string, event: string, n = 1): Promise<Array<Record<string, unknown>>> {
    return waitFor(() => this.received(topic, event).length >= n && this.received(topic, event), {
      what: `${this.userId.slice(0, 8)} to receive ${n}× ${event} on ${topic}`,
    });
  }

  /** Everything this socket was sent, as text: for "this ciphertext never reached them" checks. */
  wireText(): string {
    return JSON.stringify(this.raw.frames);
  }

  /** The keys present in this socket's view of `topic`'s presence (Phoenix's own sync functions). */
  presenceKeys(topic: string): string[] {
    let state = {};
    for (const f of this.raw.frames) {
      if (f[2] !== topic) continue;
      if (f[3] === "presence_state") state = Presence.syncState(state, f[4] as object);
      if (f[3] === "presence_diff")
        state = Presence.syncDiff(state, f[4] as { joins: object; leaves: object });
    }
    return Object.keys(state).sort();
  }

  close(): void {
    this.raw.close();
  }
}
