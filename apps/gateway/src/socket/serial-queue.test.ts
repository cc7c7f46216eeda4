import { describe, expect, it } from "vitest";
import { SerialQueue } from "./serial-queue.js";

class Queue extends SerialQueue {
  constructor(private readonly onError: (e: unknown) => void) {
    super();
  }
  protected onTaskError(e: unknown): void {
    this.onError(e);
  }
}

describe("SerialQueue", () => {
  it("runs sync tasks inline and async tasks one at a time, in order", async () => {
    const log: string[] = [];
    const q = new Queue(() => {});
    q.run(() => {
      log.push("a");
    });
    expect(log).toEqual(["a"]);
    let release!: () => void;
    q.run(
      () =>
        new Promise<void>((r) => {
          release = () => {
            log.push("b");
            r();
          };
        }),
    );
    q.run(() => {
      log.push("c");
    });
    expect(log).toEqual(["a"]);
    release();
    await new Promise((r) => setTimeout(r, 0));
    expect(log).toEqual(["a", "b", "c"]);
  });

  it("reports failures and keeps going", async () => {
    const errors: unknown[] = [];
    const log: string[] = [];
    const q = new Queue((e) => errors.push(e));
    q.run(() => {
      throw new Error("sync");
    });
    q.run(async () => {
      throw new Error("async");
    });
    q.run(() => {
      log.push("after");
    });
    await new Promise((r) => setTimeout(r, 0));
    expect(errors.map((e) => (e as Error).message)).toEqual(["sync", "async"]);
    expect(log).toEqual(["after"]);
  });
});
