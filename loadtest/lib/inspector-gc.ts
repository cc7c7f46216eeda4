/**
 * @module
 * Forces a full GC in another Node process through its inspector (Chrome DevTools Protocol
 * `HeapProfiler.collectGarbage`), so an RSS reading is not inflated by garbage that simply has
 * not been collected yet. The gateway is started with `--inspect-port=127.0.0.1:<port>` in
 * NODE_OPTIONS (which only picks the port) and the inspector is switched on with SIGUSR1, before
 * any baseline is taken, so its own memory is in every reading alike.
 */
import { createWriteStream } from "node:fs";
import { PhxSocket } from "./phx-client.js";

export interface GcHandle {
  collect(): Promise<void>;
  /** V8 heap in use (bytes): splits an RSS delta into JavaScript objects and everything native. */
  heapUsed(): Promise<number>;
  /** Writes a V8 heap snapshot (open it in Chrome DevTools › Memory). */
  heapSnapshot(file: string): Promise<void>;
  close(): void;
}

export async function openInspectorGc(pid: number, port: number, timeoutMs = 10_000): Promise<GcHandle> {
  process.kill(pid, "SIGUSR1");
  const deadline = Date.now() + timeoutMs;
  let wsUrl: string | undefined;
  while (!wsUrl) {
    try {
      const res = await fetch(`http://127.0.0.1:${port}/json/list`, { signal: AbortSignal.timeout(1_000) });
      const list = (await res.json()) as Array<{ webSocketDebuggerUrl?: string }>;
      wsUrl = list[0]?.webSocketDebuggerUrl;
    } catch {
      if (Date.now() > deadline) throw new Error(`inspector of pid ${pid} did not open on :${port}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  const url = new URL(wsUrl);
  const sock = await PhxSocket.connect({
    host: "127.0.0.1",
    port: Number(url.port),
    token: "",
    path: url.pathname,
  });
  let id = 0;
  const waiting = new Map<number, (result: unknown) => void>();
  let onChunk: ((chunk: string) => void) | undefined;
  sock.onText = (data) => {
    const msg = JSON.parse(data.toString()) as {
      id?: number;
      result?: unknown;
      method?: string;
      params?: unknown;
    };
    if (msg.id !== undefined) waiting.get(msg.id)?.(msg.result);
    else if (msg.method === "HeapProfiler.addHeapSnapshotChunk")
      onChunk?.((msg.params as { chunk: string }).chunk);
    return true;
  };
  const call = (method: string) =>
    new Promise<unknown>((resolve, reject) => {
      const my = ++id;
      const timer = setTimeout(() => reject(new Error(`${method}: no answer`)), 30_000);
      waiting.set(my, (result) => {
        clearTimeout(timer);
        waiting.delete(my);
        resolve(result);
      });
      sock.sendText(JSON.stringify({ id: my, method }));
    });
  await call("HeapProfiler.enable");
  return {
    async collect() {
      // Twice: the first pass can leave objects whose finalizers free more on the second.
      await call("HeapProfiler.collectGarbage");
      await call("HeapProfiler.collectGarbage");
    },
    async heapUsed() {
      const r = (await call("Runtime.getHeapUsage")) as { usedSize: number };
      return r.usedSize;
    },
    async heapSnapshot(file) {
      const out = createWriteStream(file);
      onChunk = (chunk) => out.write(chunk);
      try {
        await call("HeapProfiler.takeHeapSnapshot");
      } finally {
        onChunk = undefined;
        await new Promise((r) => out.end(r));
      }
    },
    close: () => sock.close(),
  };
}
