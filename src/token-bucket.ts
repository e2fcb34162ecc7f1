// A token bucket with an injected clock. Shared by the KMS pace limit (per ring) and the
// per-client rate limit on POST /v1/tokens.

export class TokenBucket {
  private tokens: number;
  private updatedAt: number;

  constructor(
    private readonly ratePerSecond: number,
    private readonly capacity: number,
    private readonly now: () => number,
  ) {
    this.tokens = capacity;
    this.updatedAt = now();
  }

  /**
   * Reserves one call: returns how many ms to wait before making it, or undefined (and reserves
   * nothing) when that wait would exceed `maxWaitMs`. Tokens may go negative: each reservation
   * that waits pushes the next one further out, so waiting callers are spaced at the rate.
   */
  reserve(maxWaitMs: number): number | undefined {
    // Never moves backwards: a clock that steps back and returns must not mint tokens twice.
    const now = Math.max(this.now(), this.updatedAt);
    this.tokens = Math.min(this.capacity, this.tokens + ((now - this.updatedAt) * this.ratePerSecond) / 1000);
    this.updatedAt = now;
    const waitMs = this.tokens >= 1 ? 0 : ((1 - this.tokens) * 1000) / this.ratePerSecond;
    if (waitMs > maxWaitMs) return undefined;
    this.tokens -= 1;
    return waitMs;
  }
}
