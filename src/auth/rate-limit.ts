// Per-client rate limits: a token bucket (rate_limit_per_second, rate_limit_burst) per client name.
// With Redis the bucket is shared by all replicas (src/state/shared-bucket.ts), so N replicas allow
// the limit once, not N times. Without Redis, or while Redis is unreachable, each replica keeps its
// own bucket: a Redis outage never refuses a token, it only loosens the limit to N× for its duration.
// Hand-written instead of @fastify/rate-limit: that counts fixed windows per route and key, and
// these limits are a token bucket per client, chosen after authentication, with the same
// semantics with and without Redis. Buckets are keyed by client name, so a reload keeps them.
import type { Logger } from 'pino';
import type { ClientConfig } from '../config-schema.js';
import { RateLimitedError } from '../errors.js';
import { TokenBucket } from '../token-bucket.js';

export interface SharedBuckets {
  takeToken(name: string, ratePerSecond: number, capacity: number): Promise<number>;
}

export class RateLimits {
  private readonly local = new Map<string, { bucket: TokenBucket; rate: number; capacity: number }>();
  private sharedDown = false;

  constructor(
    private readonly shared: SharedBuckets | undefined,
    private readonly logger: Logger,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Spends one token of the client's limit; over it: 429 ERR_RATE_LIMITED with Retry-After. */
  async consume(client: ClientConfig): Promise<void> {
    const rate = client.rateLimitPerSecond;
    if (rate <= 0) return;
    const capacity = Math.max(1, client.rateLimitBurst || rate);
    const waitMs = (await this.fromShared(client.name, rate, capacity)) ?? this.fromLocal(client.name, rate, capacity);
    if (waitMs === 0) return;
    const error = new RateLimitedError(`client "${client.name}" is over its rate limit of ${rate} tokens per second`);
    error.retryAfterSeconds = Math.max(1, Math.ceil(waitMs / 1000));
    throw error;
  }

  private async fromShared(name: string, rate: number, capacity: number): Promise<number | undefined> {
    if (!this.shared) return undefined;
    try {
      const waitMs = await this.shared.takeToken(name, rate, capacity);
      if (this.sharedDown) this.logger.info('rate limits: Redis is back; limits are shared by all replicas again');
      this.sharedDown = false;
      return waitMs;
    } catch (error) {
      if (!this.sharedDown) this.logger.warn({ err: error }, 'rate limits: Redis unreachable; each replica enforces the limits on its own until it is back');
      this.sharedDown = true;
      return undefined;
    }
  }

  private fromLocal(name: string, rate: number, capacity: number): number {
    let entry = this.local.get(name);
    if (!entry || entry.rate !== rate || entry.capacity !== capacity) {
      entry = { bucket: new TokenBucket(rate, capacity, this.now), rate, capacity };
      this.local.set(name, entry);
    }
    return entry.bucket.reserve(0) === undefined ? Math.ceil(1000 / rate) : 0;
  }
}
