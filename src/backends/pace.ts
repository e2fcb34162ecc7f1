// Client-side pace limit: a token bucket per ring. KMS's cryptographic-operation quota is shared by
// every caller in the account and region, so one busy ring must not spend all of it; and a call
// that would have to queue for long fails fast (503 + Retry-After) instead of piling up behind
// the SDK's retries while the caller's HTTP request times out.
import { BackendThrottledError } from '../errors.js';
import { TokenBucket } from '../token-bucket.js';

export interface PaceOptions {
  /** Calls per second per name; 0 means unlimited. */
  ratePerSecond: number;
  /** Calls allowed back to back after an idle spell. Default: one second's worth (at least 1). */
  burst?: number;
  /** A call that would wait longer than this fails instead of waiting. */
  maxWaitMs?: number;
  /** Milliseconds; injected by tests. */
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

export const DEFAULT_MAX_WAIT_MS = 250;

export class Pacer {
  private readonly buckets = new Map<string, TokenBucket>();
  private readonly maxWaitMs: number;
  private readonly now: () => number;
  private readonly sleep: (ms: number) => Promise<void>;

  constructor(private readonly options: PaceOptions) {
    this.maxWaitMs = options.maxWaitMs ?? DEFAULT_MAX_WAIT_MS;
    this.now = options.now ?? (() => performance.now());
    this.sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
  }

  get unlimited(): boolean {
    return this.options.ratePerSecond <= 0;
  }

  /** Waits for this name's turn, or throws BackendThrottledError (Retry-After 1) if that is further off than `maxWaitMs`. */
  async acquire(name: string, maxWaitMs = this.maxWaitMs): Promise<void> {
    if (this.unlimited) return;
    let bucket = this.buckets.get(name);
    if (!bucket) {
      const rate = this.options.ratePerSecond;
      bucket = new TokenBucket(rate, this.options.burst ?? Math.max(1, rate), this.now);
      this.buckets.set(name, bucket);
    }
    const waitMs = bucket.reserve(Math.min(maxWaitMs, this.maxWaitMs));
    if (waitMs === undefined) {
      throw new BackendThrottledError(`ring "${name}" is over its client-side pace limit of ${this.options.ratePerSecond} KMS calls per second`, { retryAfterSeconds: 1 });
    }
    if (waitMs > 0) await this.sleep(waitMs);
  }
}
