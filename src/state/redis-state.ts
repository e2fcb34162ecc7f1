// Shared state in Redis: a set per ring for revocations, SET NX PX locks released by a
// compare-and-delete script, and a pub/sub channel that makes other replicas refresh at once.
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { BackendUnavailableError } from '../errors.js';
import type { RevocationRecord, SharedState } from './shared-state.js';

const RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end";

export class RedisSharedState implements SharedState {
  readonly kind = 'redis';
  private readonly client: Redis;
  private subscriber?: Redis;

  constructor(
    url: string,
    private readonly prefix = 'signet:',
  ) {
    // Fail fast instead of queueing forever: a revocation must not silently wait for Redis.
    this.client = new Redis(url, { maxRetriesPerRequest: 2, enableOfflineQueue: true, lazyConnect: false });
    this.client.on('error', () => undefined); // surfaced per command instead
  }

  private key(...parts: string[]): string {
    return `${this.prefix}${parts.join(':')}`;
  }

  private async run<T>(what: string, work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (error) {
      throw new BackendUnavailableError(`Redis ${what} failed: ${(error as Error).message}`, { cause: error, retryAfterSeconds: 2 });
    }
  }

  async revocations(ring: string): Promise<RevocationRecord[]> {
    const entries = await this.run('read revocations', () => this.client.hgetall(this.key('revoked', ring)));
    return Object.values(entries).map((json) => JSON.parse(json) as RevocationRecord);
  }

  async revokedVersions(ring: string): Promise<Set<number>> {
    const versions = await this.run('read revocations', () => this.client.hkeys(this.key('revoked', ring)));
    return new Set(versions.map(Number));
  }

  async revoke(ring: string, record: RevocationRecord): Promise<void> {
    await this.run('record revocation', () => this.client.hset(this.key('revoked', ring), String(record.version), JSON.stringify(record)));
  }

  async withLock<T>(name: string, ttlMs: number, work: () => Promise<T>): Promise<T | undefined> {
    const key = this.key('lock', name);
    const token = randomBytes(16).toString('hex');
    const acquired = await this.run('lock', () => this.client.set(key, token, 'PX', ttlMs, 'NX'));
    if (acquired !== 'OK') return undefined;
    try {
      return await work();
    } finally {
      await this.client.eval(RELEASE, 1, key, token).catch(() => undefined); // expires by itself otherwise
    }
  }

  async publishChange(ring: string): Promise<void> {
    await this.run('publish', () => this.client.publish(this.key('changes'), ring));
  }

  async onChange(listener: (ring: string) => void): Promise<void> {
    this.subscriber ??= this.client.duplicate();
    this.subscriber.on('error', () => undefined);
    this.subscriber.on('message', (_channel: string, ring: string) => listener(ring));
    await this.run('subscribe', () => this.subscriber!.subscribe(this.key('changes')));
  }

  async close(): Promise<void> {
    await Promise.all([this.client.quit().catch(() => undefined), this.subscriber?.quit().catch(() => undefined)]);
  }
}
