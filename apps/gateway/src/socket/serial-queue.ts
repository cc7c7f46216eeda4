/**
 * @module
 * Runs tasks one at a time, in order. A task that completes synchronously runs inline with no
 * promise allocated: most channel events (ping, replies from memory) never touch the microtask
 * queue, which matters at 100k events/s.
 *
 * A base class rather than a member object: a joined channel (ChannelEntry) is its own queue,
 * so an idle socket does not pay for a separate queue object and an error-callback closure.
 * (Its helpers are TypeScript-private: `#methods` would cost every instance a brand slot.)
 */

export type Task = () => void | Promise<void>;

export abstract class SerialQueue {
  #busy = false;
  #backlog: Task[] | undefined;

  /** A task threw or rejected; the queue goes on with the next one. */
  protected abstract onTaskError(e: unknown): void;

  run(task: Task): void {
    if (this.#busy) {
      this.#backlog ??= [];
      this.#backlog.push(task);
      return;
    }
    this.exec(task);
  }

  private exec(task: Task): void {
    let result: void | Promise<void>;
    try {
      result = task();
    } catch (e) {
      this.onTaskError(e);
      result = undefined;
    }
    if (result instanceof Promise) {
      this.#busy = true;
      result
        .catch((e: unknown) => this.onTaskError(e))
        .finally(() => {
          this.#busy = false;
          this.next();
        });
    } else {
      this.next();
    }
  }

  private next(): void {
    const next = this.#backlog?.shift();
    if (next) this.exec(next);
  }
}
