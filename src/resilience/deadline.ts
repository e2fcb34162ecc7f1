// One end-to-end deadline per token request: queueing, every backend attempt and every retry
// share it. When it passes, whoever still waits is told at once and the work in flight is
// cancelled (a queued sign leaves its queue, a batch nobody waits for is aborted).
// Hand-written instead of AbortSignal.timeout on the token path: an EventTarget and its listeners
// per request cost more than the one timer and the plain list kept here; an AbortSignal is made
// only for a backend call that takes one (the AWS SDK).
import { DeadlineExceededError } from '../errors.js';

export class Deadline {
  private listeners: Array<() => void> = [];
  private readonly timer: NodeJS.Timeout;
  private controller?: AbortController;
  private passed = false;
  /** performance.now() milliseconds at which the deadline passes. */
  readonly at: number;

  private constructor(readonly ms: number) {
    this.at = performance.now() + ms;
    this.timer = setTimeout(() => this.expire(), ms);
  }

  /** A deadline `ms` from now. Call `dispose()` when the work is done. */
  static after(ms: number): Deadline {
    return new Deadline(ms);
  }

  get expired(): boolean {
    return this.passed;
  }

  remainingMs(): number {
    return Math.max(0, this.at - performance.now());
  }

  /** The error every waiter gets. */
  error(): DeadlineExceededError {
    const message = `no signature within the request deadline of ${this.ms} ms; the key backend is slow or stalled`;
    return new DeadlineExceededError(message, { publicMessage: message });
  }

  /** Calls `listener` once when the deadline passes; returns a function that unsubscribes it. */
  onExpire(listener: () => void): () => void {
    if (this.passed) {
      listener();
      return () => undefined;
    }
    this.listeners.push(listener);
    return () => {
      const index = this.listeners.indexOf(listener);
      if (index >= 0) this.listeners.splice(index, 1);
    };
  }

  /** An AbortSignal that aborts when the deadline passes (made on first use). */
  get signal(): AbortSignal {
    if (!this.controller) {
      const controller = new AbortController();
      this.controller = controller;
      if (this.passed) controller.abort(this.error());
      else this.listeners.push(() => controller.abort(this.error()));
    }
    return this.controller.signal;
  }

  /** `work`'s outcome, or DeadlineExceededError the moment the deadline passes, whichever is first. */
  race<T>(work: Promise<T>): Promise<T> {
    if (this.passed) {
      work.catch(() => undefined);
      return Promise.reject(this.error());
    }
    return new Promise<T>((resolve, reject) => {
      const unsubscribe = this.onExpire(() => reject(this.error()));
      work.then(
        (value) => {
          unsubscribe();
          resolve(value);
        },
        (error: unknown) => {
          unsubscribe();
          reject(error);
        },
      );
    });
  }

  dispose(): void {
    clearTimeout(this.timer);
    this.listeners = [];
  }

  private expire(): void {
    this.passed = true;
    const listeners = this.listeners;
    this.listeners = [];
    for (const listener of listeners) listener();
  }
}
