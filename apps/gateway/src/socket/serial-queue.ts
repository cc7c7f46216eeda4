/**
 * @module
 * Runs tasks one at a time, in order. A task that completes synchronously runs inline with no
 * promise allocated: most channel events (ping, replies from memory) never touch the microtask
 * queue, which matters at 100k events/s.
 */

export type Task = () => void | Promise<void>;

export class SerialQueue {
  #busy = false;
  #backlog: Task[] | undefined;

  constructor(private readonly onError: (e: unknown) => void) {}

  run(task: Task): void {
    if (this.#busy) {
      this.#backlog ??= [];
      this.#backlog.push(task);
      return;
    }
    this.#exec(task);
  }

  #exec(task: Task): void {
    let result: void | Promise<void>;
    try {
      result = task();
    } catch (e) {
      this.onError(e);
      result = undefined;
    }
    if (result instanceof Promise) {
      this.#busy = true;
      result.catch(this.onError).finally(() => {
        this.#busy = false;
        this.#next();
      });
    } else {
      this.#next();
    }
  }

  #next(): void {
    const next = this.#backlog?.shift();
    if (next) this.#exec(next);
  }
}
