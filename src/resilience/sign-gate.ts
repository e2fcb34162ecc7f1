// A bound on the signs each ring has in progress (queued for a batch or out at the backend).
// Past it a request is refused at once with 503 instead of queueing behind a slow backend: the
// queue, the memory and every caller's wait stay bounded whatever the arrival rate.
import { OverloadedError } from '../errors.js';

export class SignGate {
  private readonly pending = new Map<string, number>();

  constructor(private readonly limit: number) {}

  /** One error per ring, made once: under overload, a stack trace per refusal is the costliest part of refusing. */
  private readonly refusals = new Map<string, OverloadedError>();

  private refusal(ring: string): OverloadedError {
    let error = this.refusals.get(ring);
    if (!error) {
      error = new OverloadedError(`ring "${ring}" already has ${this.limit} signs in progress (server.sign_queue_limit); the backend is not keeping up`);
      this.refusals.set(ring, error);
    }
    return error;
  }

  /** Signs in progress for `ring` (signet_sign_queue_depth). */
  depth(ring: string): number {
    return this.pending.get(ring) ?? 0;
  }

  /** Runs `work` as one sign of `ring`, or throws OverloadedError if the ring is at its limit. */
  async run<T>(ring: string, work: () => Promise<T>): Promise<T> {
    const depth = this.pending.get(ring) ?? 0;
    if (depth >= this.limit) throw this.refusal(ring);
    this.pending.set(ring, depth + 1);
    try {
      return await work();
    } finally {
      this.pending.set(ring, this.pending.get(ring)! - 1);
    }
  }
}
