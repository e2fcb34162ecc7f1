// Re-reads each ring from everything that holds facts about it (the backend's versions and
// revocations, this replica's state_dir, Redis), hands them to the ring, runs canaries, and
// writes back to each store whatever it lacks, so a store that lost data (Redis flushed, an
// empty state_dir on a new replica) is repaired from the others. The ring's ledger is the union
// of every source and of what the ring already knew: no loss anywhere can shrink it.
import type { Logger } from 'pino';
import type { RevocationRecord } from '../backends/backend.js';
import { spkiToJwk, type PublicJwk } from '../jose/jwk.js';
import type { KeyService } from '../keyring/key-service.js';
import type { KeyRing } from '../keyring/keyring.js';
import { emptyLedger, ledgerSize, missingFrom, type RingLedger } from '../keyring/ledger.js';
import type { Metrics } from '../observability/metrics.js';
import { ATTR, SPAN, traced, tracing } from '../observability/tracing.js';
import type { LedgerStore } from '../state/ledger-store.js';
import type { Canary } from './canary.js';

export interface RefreshOptions {
  keys: KeyService;
  /** The replica's own durable copy first: a ring does not load until it has been read. */
  durable: LedgerStore;
  /** Further copies (Redis): read and repaired when reachable, skipped when not. */
  shared: LedgerStore[];
  /** Redis' generation check: 'lost' when it lost its data since the last check. */
  generation?: () => Promise<'ok' | 'lost'>;
  /** Waits (bounded) for the shared stores to connect before the first load; start-up goes on without them. */
  connect?: () => Promise<boolean>;
  canary?: Canary;
  logger: Logger;
  metrics: Metrics;
  intervalMs: number;
  /** Read-only tools look without writing anything back. */
  writeBack: boolean;
}

interface StoreRead {
  store: LedgerStore;
  ledger?: RingLedger;
}

/** The first retry of a ring that could not load at start-up; each later one waits twice as long. */
const FIRST_RETRY_MS = 500;

export class RingRefresher {
  private timer?: NodeJS.Timeout;
  private retryTimer?: NodeJS.Timeout;
  private stopped = false;
  private refreshing?: Promise<void>;
  private readonly listeners: Array<(ring: KeyRing) => void> = [];
  /** version → converted JWK, per ring: SPKI → JWK costs a thumbprint, do it once per key. */
  private readonly converted = new Map<string, Map<number, { spkiHex: string; jwk: PublicJwk }>>();

  constructor(private readonly options: RefreshOptions) {}

  /** Called after each successful refresh of a ring (metrics, scheduling, markSigning). */
  onRefresh(listener: (ring: KeyRing) => void): void {
    this.listeners.push(listener);
  }

  /**
   * Creates missing dev keys, then loads every ring. With `requireKeys` a ring that cannot load
   * fails start-up (CLI commands); without, start-up goes on and the rings that did not load are
   * retried with backoff (0.5 s, 1 s, 2 s, … up to the refresh interval) until they do.
   */
  async start({ requireKeys = true }: { requireKeys?: boolean } = {}): Promise<void> {
    if (this.options.connect && !(await this.options.connect())) {
      this.options.logger.error('Redis is unreachable: starting from this replica\'s own copy of the ledgers (state_dir) and the backend\'s revocation records; revocations from other replicas arrive once Redis is back');
    }
    if (requireKeys) {
      for (const ring of this.options.keys.rings.values()) await this.ensureKey(ring);
      await this.refreshAll({ throwOnError: true });
    } else {
      await this.loadUnloaded();
      this.retryUnloaded(0);
    }
    this.timer = setInterval(() => void this.refreshAll({ throwOnError: false }), this.options.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    clearTimeout(this.retryTimer);
    this.stopped = true;
  }

  private async ensureKey(ring: KeyRing): Promise<void> {
    if (ring.config.createIfMissing) await ring.backend.ensureKey?.(ring.ref);
  }

  /** One attempt at every ring that has not loaded yet; failures are logged and counted, not thrown. */
  private async loadUnloaded(): Promise<void> {
    const unloaded = [...this.options.keys.rings.values()].filter((ring) => !ring.loaded);
    await Promise.all(
      unloaded.map(async (ring) => {
        try {
          await this.ensureKey(ring);
          await this.refreshRing(ring);
        } catch (error) {
          if (ring.refreshError === undefined) {
            // ensureKey failed before refreshRing could say why.
            ring.refreshError = (error as Error).message;
            this.options.metrics.refreshFailures.inc({ ring: ring.name });
            this.options.logger.error({ ring: ring.name, err: error }, 'ring could not be created; retrying');
          }
        }
      }),
    );
  }

  private retryUnloaded(attempt: number): void {
    if (this.stopped || [...this.options.keys.rings.values()].every((ring) => ring.loaded)) return;
    const delay = Math.min(this.options.intervalMs, FIRST_RETRY_MS * 2 ** attempt);
    this.retryTimer = setTimeout(() => {
      void this.loadUnloaded().finally(() => this.retryUnloaded(attempt + 1));
    }, delay);
    this.retryTimer.unref();
  }

  /** Re-reads every ring. On failure a ring keeps its last good state (stale-if-error). */
  refreshAll({ throwOnError }: { throwOnError: boolean }): Promise<void> {
    // One refresh at a time; callers that arrive during one share it.
    this.refreshing ??= (async () => {
      await this.checkGeneration();
      const results = await Promise.allSettled([...this.options.keys.rings.values()].map((ring) => this.refreshRing(ring)));
      const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed && throwOnError) throw failed.reason;
    })().finally(() => {
      this.refreshing = undefined;
    });
    return this.refreshing;
  }

  private async checkGeneration(): Promise<void> {
    if (!this.options.generation) return;
    try {
      if ((await this.options.generation()) === 'lost') {
        this.options.metrics.stateDataLoss.inc({ store: 'redis' });
        this.options.logger.error('Redis lost its data (its generation marker is gone): every known revocation, signing fact and key pin is written back to it from this replica');
      }
    } catch {
      // Redis unreachable: the ring refreshes go on from the other stores and say so.
    }
  }

  /** One span per ring refresh, the root of its own trace: the backend calls it makes are its children. */
  refreshRing(ring: KeyRing): Promise<void> {
    const work = () => this.refreshRingNow(ring);
    return tracing.on ? traced(SPAN.refresh, { [ATTR.ring]: ring.name, [ATTR.backend]: ring.backend.kind }, work, { orStartTrace: true }) : work();
  }

  private async refreshRingNow(ring: KeyRing): Promise<void> {
    const { logger, metrics } = this.options;
    try {
      await this.load(ring);
      if (ring.refreshError !== undefined) logger.info({ ring: ring.name }, 'ring refresh recovered');
      ring.refreshError = undefined;
    } catch (error) {
      ring.refreshError = (error as Error).message;
      metrics.refreshFailures.inc({ ring: ring.name });
      logger.error({ ring: ring.name, err: error }, 'ring refresh failed; serving last known keys');
      throw error;
    }
    for (const listener of this.listeners) listener(ring);
  }

  private async load(ring: KeyRing): Promise<void> {
    const { durable, shared } = this.options;
    const [versions, backendRevocations, own, ...others] = await Promise.all([
      ring.backend.listVersions(ring.ref),
      this.readBackendRevocations(ring),
      durable.read(ring.name), // required: the local copy is what survives every other loss
      ...shared.map((store) => this.readStore(store, ring)),
    ]);
    ring.absorbLedgers([own, backendRevocations ?? emptyLedger(), ...others.flatMap((read) => read.ledger ?? [])]);
    ring.absorbListing({ versions, jwks: await this.jwksOf(ring, versions) });
    await this.runCanaries(ring);
    ring.recompute();
    if (this.options.writeBack) {
      const enabled = new Set(versions.filter((v) => !v.disabled).map((v) => v.version));
      await this.writeBack(ring, [{ store: durable, ledger: own }, ...others], backendRevocations, enabled);
    }
  }

  private async readStore(store: LedgerStore, ring: KeyRing): Promise<StoreRead> {
    try {
      return { store, ledger: await store.read(ring.name) };
    } catch (error) {
      this.options.logger.warn({ ring: ring.name, store: store.name, err: (error as Error).message }, 'could not read the ring ledger from a store; using the others');
      return { store };
    }
  }

  /** Revocations the backend holds; undefined when it could not be read this time. */
  private async readBackendRevocations(ring: KeyRing): Promise<RingLedger | undefined> {
    if (!ring.backend.revocations) return emptyLedger();
    try {
      const records = await ring.backend.revocations(ring.ref);
      return { ...emptyLedger(), revoked: new Map(records.map((record) => [record.version, record])) };
    } catch (error) {
      this.options.logger.warn({ ring: ring.name, err: (error as Error).message }, 'could not read revocations from the backend; using the other stores');
      return undefined;
    }
  }

  private async jwksOf(ring: KeyRing, versions: ReadonlyArray<{ version: number; spki: Uint8Array }>): Promise<Map<number, PublicJwk>> {
    let cache = this.converted.get(ring.name);
    if (!cache) this.converted.set(ring.name, (cache = new Map()));
    const jwks = new Map<number, PublicJwk>();
    for (const { version, spki } of versions) {
      const spkiHex = Buffer.from(spki).toString('hex');
      let entry = cache.get(version);
      if (entry?.spkiHex !== spkiHex) cache.set(version, (entry = { spkiHex, jwk: await spkiToJwk(spki, ring.config.alg) }));
      jwks.set(version, entry.jwk);
    }
    return jwks;
  }

  private async runCanaries(ring: KeyRing): Promise<void> {
    const { canary, metrics, logger } = this.options;
    const candidates = ring.canaryCandidates();
    if (!canary || candidates.length === 0) return;
    const published = ring.publishedJwks(ring.recompute().view);
    await Promise.all(
      candidates.map(async (version) => {
        try {
          await canary(ring, version, published);
          ring.setCanaryResult(version);
        } catch (error) {
          const reason = error instanceof Error ? error.message : String(error);
          ring.setCanaryResult(version, reason);
          metrics.canaryFailures.inc({ ring: ring.name, version: String(version) });
          logger.error({ ring: ring.name, version, err: error }, 'canary failed: this version may not sign until a canary passes');
        }
      }),
    );
  }

  /** Gives every reachable store the facts it lacks, and the backend the revocations of versions it still holds enabled. */
  private async writeBack(ring: KeyRing, reads: StoreRead[], backend: RingLedger | undefined, enabledInBackend: ReadonlySet<number>): Promise<void> {
    const { logger, metrics } = this.options;
    const ledger = ring.ledger;
    await Promise.all(
      reads.map(async ({ store, ledger: held }) => {
        if (!held) return;
        const missing = missingFrom(ledger, held, store.parts);
        if (ledgerSize(missing) === 0) return;
        try {
          await store.add(ring.name, missing);
        } catch (error) {
          logger.warn({ ring: ring.name, store: store.name, err: (error as Error).message }, 'could not write ledger facts back to a store; will retry');
          return;
        }
        if (missing.revoked.size > 0) {
          metrics.revocationsReasserted.inc({ ring: ring.name, store: store.name }, missing.revoked.size);
          logger.warn({ ring: ring.name, store: store.name, versions: [...missing.revoked.keys()] }, 'revocations written back to a store that lacked them');
        }
      }),
    );
    if (!backend || !ring.backend.revokeVersion) return;
    const lacking = [...ledger.revoked.values()].filter((record) => enabledInBackend.has(record.version) && !backend.revoked.has(record.version));
    for (const record of lacking) await this.revokeInBackend(ring, record);
  }

  private async revokeInBackend(ring: KeyRing, record: RevocationRecord): Promise<void> {
    try {
      await ring.backend.revokeVersion!(ring.ref, record);
      this.options.metrics.revocationsReasserted.inc({ ring: ring.name, store: 'backend' });
      this.options.logger.warn({ ring: ring.name, version: record.version }, 'revocation recorded in the backend, which lacked it');
    } catch (error) {
      this.options.logger.warn({ ring: ring.name, version: record.version, err: (error as Error).message }, 'could not record a revocation in the backend; will retry');
    }
  }
}
