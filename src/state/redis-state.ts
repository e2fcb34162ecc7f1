// Redis as the fast channel between replicas and a shared cache of ring ledgers: a hash per
// ring and kind of fact, SET NX PX locks released by a compare-and-delete script, a pub/sub
// channel that carries revocations to every replica at once, and a generation marker that tells
// when Redis lost its data (restart without persistence, FLUSHALL, failover to an empty replica).
// Redis is never the only copy of a fact: every replica keeps its own in state_dir.
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { BackendUnavailableError } from '../errors.js';
import type { PublicJwk } from '../jose/jwk.js';
import { LEDGER_PARTS, type RevocationRecord, type RingLedger } from '../keyring/ledger.js';
import type { Coordination, RingChange } from './coordination.js';
import type { LedgerStore } from './ledger-store.js';
import { SHARED_BUCKET_SCRIPT } from './shared-bucket.js';

const RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end";
const COMMAND_TIMEOUT_MS = 1000;

export class RedisState implements LedgerStore, Coordination {
  readonly kind = 'redis';
  readonly name = 'redis';
  readonly parts = LEDGER_PARTS;
  private readonly client: Redis;
  private subscriber?: Redis;
  private generation?: string;

  /** Told when a lock is taken without Redis (see withLock). */
  onLockUnavailable?: (name: string, error: unknown) => void;

  constructor(
    url: string,
    private readonly prefix = 'signet:',
  ) {
    // Fail fast instead of queueing: a revocation must not silently wait for Redis, and a refresh
    // must go on from the other stores while Redis is away.
    this.client = new Redis(url, { maxRetriesPerRequest: 1, commandTimeout: COMMAND_TIMEOUT_MS, enableOfflineQueue: false, lazyConnect: false });
    this.client.on('error', () => undefined); // surfaced per command instead
  }

  private key(...parts: string[]): string {
    return `${this.prefix}${parts.join(':')}`;
  }

  private async run<T>(what: string, work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (error) {
      throw new BackendUnavailableError(`Redis ${what} failed`, { cause: error, retryAfterSeconds: 2 });
    }
  }

  /** Waits up to `timeoutMs` for the connection (start-up reads then see Redis); false if it is still down. */
  async connected(timeoutMs: number): Promise<boolean> {
    if (this.client.status === 'ready') return true;
    return new Promise((resolve) => {
      const done = (ready: boolean): void => {
        clearTimeout(timer);
        this.client.off('ready', onReady);
        resolve(ready);
      };
      const onReady = (): void => done(true);
      const timer = setTimeout(() => done(false), timeoutMs);
      this.client.on('ready', onReady);
    });
  }

  /**
   * 'lost' when the generation marker this process saw is gone or replaced: Redis lost its data
   * since the last check. The first call in a process only records the marker.
   */
  async checkGeneration(): Promise<'ok' | 'lost'> {
    const key = this.key('generation');
    const fresh = randomBytes(12).toString('hex');
    const [[, set], [, current]] = (await this.run('generation check', () => this.client.multi().set(key, fresh, 'NX').get(key).exec())) as [[unknown, string | null], [unknown, string]];
    const previous = this.generation;
    this.generation = current;
    return previous !== undefined && (set === 'OK' || current !== previous) ? 'lost' : 'ok';
  }

  async read(ring: string): Promise<RingLedger> {
    const results = (await this.run('read ledger', () =>
      this.client
        .multi()
        .hgetall(this.key('revoked', ring))
        .hgetall(this.key('signed', ring))
        .hgetall(this.key('pins', ring))
        .exec(),
    )) as Array<[unknown, Record<string, string>]>;
    const [revoked, signed, pins] = results.map(([, hash]) => Object.entries(hash ?? {}).map(([version, value]) => [Number(version), value] as const));
    return {
      revoked: new Map(revoked!.map(([version, json]) => [version, JSON.parse(json) as RevocationRecord])),
      signedFrom: new Map(signed!.map(([version, ms]) => [version, Number(ms)])),
      pins: new Map(pins!.map(([version, json]) => [version, JSON.parse(json) as PublicJwk])),
    };
  }

  async add(ring: string, facts: RingLedger): Promise<void> {
    // HSETNX: the first writer of a fact wins, so a replica can never overwrite another's pin.
    const batch = this.client.multi();
    for (const [version, record] of facts.revoked) batch.hsetnx(this.key('revoked', ring), String(version), JSON.stringify(record));
    for (const [version, at] of facts.signedFrom) batch.hsetnx(this.key('signed', ring), String(version), String(at));
    for (const [version, jwk] of facts.pins) batch.hsetnx(this.key('pins', ring), String(version), JSON.stringify(jwk));
    if (batch.length === 0) return;
    await this.run('record ledger facts', () => batch.exec());
  }

  /**
   * Runs `work` holding the lock. While Redis cannot be reached the work runs without it, as it
   * would without Redis: a revocation's replacement must not wait for Redis, and the rotation
   * under it re-reads the backend before creating anything (README: "Several replicas").
   */
  async withLock<T>(name: string, ttlMs: number, work: () => Promise<T>): Promise<T | undefined> {
    const key = this.key('lock', name);
    const token = randomBytes(16).toString('hex');
    let acquired: string | null;
    try {
      acquired = await this.client.set(key, token, 'PX', ttlMs, 'NX');
    } catch (error) {
      this.onLockUnavailable?.(name, error);
      return work();
    }
    if (acquired !== 'OK') return undefined;
    try {
      return await work();
    } finally {
      await this.client.eval(RELEASE, 1, key, token).catch(() => undefined); // expires by itself otherwise
    }
  }

  async announce(change: RingChange): Promise<void> {
    await this.run('publish', () => this.client.publish(this.key('changes'), JSON.stringify(change)));
  }

  onChange(listener: (change: RingChange) => void): void {
    // ioredis subscribes again by itself after every reconnect, so a Redis that is down at
    // start-up or restarts later delivers events again once it is back.
    this.subscriber ??= this.client.duplicate({ enableOfflineQueue: true, commandTimeout: undefined });
    this.subscriber.on('error', () => undefined);
    this.subscriber.on('message', (_channel: string, message: string) => {
      const change = parseChange(message);
      if (change) listener(change);
    });
    this.subscriber.subscribe(this.key('changes')).catch(() => undefined);
  }

  /** Takes one token from the bucket `name` shared by all replicas: 0 when taken, else ms until one is free. */
  async takeToken(name: string, ratePerSecond: number, capacity: number): Promise<number> {
    const [taken, waitMs] = (await this.run('rate limit', () => this.client.eval(SHARED_BUCKET_SCRIPT, 1, this.key('bucket', name), ratePerSecond, capacity))) as [number, number];
    return taken === 1 ? 0 : Math.max(1, waitMs);
  }

  async close(): Promise<void> {
    await Promise.all([this.client.quit().catch(() => undefined), this.subscriber?.quit().catch(() => undefined)]);
  }
}

function parseChange(message: string): RingChange | undefined {
  try {
    const change = JSON.parse(message) as RingChange;
    return typeof change?.ring === 'string' ? change : undefined;
  } catch {
    return { ring: message }; // an older replica announces the bare ring name
  }
}
