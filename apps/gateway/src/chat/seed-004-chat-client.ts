/**
 * Seed 004's `ChatClient` class, as published in its "React/JavaScript Client Integration"
 * section, changed only where Node differs from a browser: `transport` is `ws` (Node 20 has no
 * global WebSocket) and the logger is quiet. It is the contract: it must work unchanged.
 */
import { type Channel, Socket } from "phoenix";
import WebSocket from "ws";

export class ChatClient {
  socket: Socket;
  channels: Map<string, Channel>;
  received: unknown[] = [];
  presenceStates: unknown[] = [];
  presenceDiffs: unknown[] = [];

  constructor(token: string, wsUrl = "ws://localhost:4000/socket") {
    // Create socket with authentication token
    this.socket = new Socket(wsUrl, {
      params: { token: token },
      transport: WebSocket as unknown as typeof globalThis.WebSocket,
      logger: () => {},
    });

    this.socket.connect();
    this.channels = new Map();
  }

  async joinConversation(conversationId: string): Promise<Channel> {
    return new Promise((resolve, reject) => {
      const topic = `chat:${conversationId}`;

      // Check if already joined
      if (this.channels.has(topic)) {
        resolve(this.channels.get(topic)!);
        return;
      }

      const channel = this.socket.channel(topic, {});

      // Handle presence events
      channel.on("presence_state", (state) => {
        this.handlePresenceState(state);
      });

      channel.on("presence_diff", (diff) => {
        this.handlePresenceDiff(diff);
      });

      // Handle new messages
      channel.on("new_msg", (payload) => {
        this.handleNewMessage(payload);
      });

      // Join the channel
      channel
        .join()
        .receive("ok", () => {
          this.channels.set(topic, channel);
          resolve(channel);
        })
        .receive("error", (resp) => {
          reject(resp);
        })
        .receive("timeout", () => {
          reject(new Error("Join timeout"));
        });
    });
  }

  async sendMessage(conversationId: string, messageBody: string): Promise<unknown> {
    const topic = `chat:${conversationId}`;
    const channel = this.channels.get(topic);

    if (!channel) {
      throw new Error(`Not joined to conversation: ${conversationId}`);
    }

    return new Promise((resolve, reject) => {
      channel
        .push("new_msg", { body: messageBody })
        .receive("ok", (resp) => {
          resolve(resp);
        })
        .receive("error", (resp) => {
          reject(resp);
        })
        .receive("timeout", () => {
          reject(new Error("Send timeout"));
        });
    });
  }

  leaveConversation(conversationId: string): void {
    const topic = `chat:${conversationId}`;
    const channel = this.channels.get(topic);

    if (channel) {
      channel.leave();
      this.channels.delete(topic);
    }
  }

  async ping(conversationId: string, payload: object = {}): Promise<unknown> {
    const topic = `chat:${conversationId}`;
    const channel = this.channels.get(topic);

    if (!channel) {
      throw new Error(`Not joined to conversation: ${conversationId}`);
    }

    return new Promise((resolve, reject) => {
      channel
        .push("ping", payload)
        .receive("ok", (resp) => {
          resolve(resp);
        })
        .receive("error", (resp) => {
          reject(resp);
        });
    });
  }

  handlePresenceState(state: unknown): void {
    this.presenceStates.push(state);
  }

  handlePresenceDiff(diff: unknown): void {
    this.presenceDiffs.push(diff);
  }

  handleNewMessage(message: unknown): void {
    this.received.push(message);
  }

  disconnect(): void {
    this.channels.forEach((channel) => {
      channel.leave();
    });
    this.channels.clear();
    this.socket.disconnect();
  }
}
