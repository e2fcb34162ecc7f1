// All rings of one gateway: background refresh, the served JWKS documents, and the
// Cache-Control each one may carry right now.
import type { Logger } from 'pino';
import type { SignetConfig } from '../config/schema.js';
import { UnknownRingError } from '../errors.js';
import type { SigningBackend } from '../backends/backend.js';
import { KeyRing, type Canary, type Clock, type RevocationSource } from './keyring.js';
import { MemoisedDocument, type JwksDocument } from './jwks-document.js';

export interface KeyServiceOptions {
  config: SignetConfig;
  backends: Map<string, SigningBackend>;
  clock: Clock;
  logger: Logger;
  revocations?: RevocationSource;
  canary?: Canary;
}

export class KeyService {
  readonly rings = new Map<string, KeyRing>();
  private readonly allDocument = new MemoisedDocument();
  private readonly ringDocuments = new Map<string, MemoisedDocument>();
  private timer?: NodeJS.Timeout;
  private refreshing?: Promise<void>;
  readonly refreshFailures = new Map<string, string>();
  private readonly listeners: Array<(ring: KeyRing) => void> = [];
  private loaded: KeyRing[] = [];

  constructor(private readonly options: KeyServiceOptions) {
    const { config } = options;
    for (const ringConfig of config.rings.values()) {
      const backend = options.backends.get(ringConfig.backend)!;
      this.rings.set(
        ringConfig.name,
        new KeyRing(ringConfig, backend, options.clock, config.jwks.maxAgeMs, options.revocations, options.canary),
      );
      this.ringDocuments.set(ringConfig.name, new MemoisedDocument());
    }
  }

  ring(name: string): KeyRing {
    const ring = this.rings.get(name);
    if (!ring) throw new UnknownRingError(`no ring named "${name}"`);
    return ring;
  }

  /** Called after each refresh of a ring (metrics, webhooks, rotation scheduling). */
  onRefresh(listener: (ring: KeyRing) => void): void {
    this.listeners.push(listener);
  }

  /** Creates missing dev keys, then loads every ring. Fails start-up if a ring cannot load. */
  async start(): Promise<void> {
    for (const ring of this.rings.values()) {
      if (ring.config.createIfMissing) await ring.backend.ensureKey?.(ring.ref);
    }
    await this.refreshAll({ throwOnError: true });
    this.timer = setInterval(() => void this.refreshAll({ throwOnError: false }), this.options.config.refreshIntervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  /** Re-reads every ring. On failure a ring keeps its last good state (stale-if-error). */
  refreshAll({ throwOnError }: { throwOnError: boolean }): Promise<void> {
    // One refresh at a time; callers that arrive during one share it.
    this.refreshing ??= (async () => {
      const results = await Promise.allSettled([...this.rings.values()].map((ring) => this.refreshRing(ring)));
      const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed && throwOnError) throw failed.reason;
    })().finally(() => {
      this.refreshing = undefined;
    });
    return this.refreshing;
  }

  async refreshRing(ring: KeyRing): Promise<void> {
    try {
      await ring.refresh();
      if (this.refreshFailures.delete(ring.name)) this.options.logger.info({ ring: ring.name }, 'ring refresh recovered');
    } catch (error) {
      this.refreshFailures.set(ring.name, (error as Error).message);
      this.options.logger.error({ ring: ring.name, err: error }, 'ring refresh failed; serving last known keys');
      throw error;
    }
    for (const listener of this.listeners) listener(ring);
  }

  /** Findings per ring from backends that can audit their keys (see SigningBackend.auditKey). */
  async auditKeys(): Promise<Map<string, string[]>> {
    const results = new Map<string, string[]>();
    for (const ring of this.rings.values()) {
      if (!ring.backend.auditKey) continue;
      try {
        results.set(ring.name, await ring.backend.auditKey(ring.ref));
      } catch (error) {
        results.set(ring.name, [`could not audit the key: ${(error as Error).message}`]);
      }
    }
    return results;
  }

  private loadedRings(): KeyRing[] {
    // Rings load once and stay loaded; recompute the list only until all have.
    if (this.loaded.length !== this.rings.size) this.loaded = [...this.rings.values()].filter((ring) => ring.loaded);
    return this.loaded;
  }

  /**
   * The JWKS of every ring (ring === undefined) or of one ring, and the max-age it may carry:
   * never past the moment a key leaves the set, so no cache outlives a retire.
   */
  jwks(ringName?: string): { document: JwksDocument; maxAgeSeconds: number } {
    const rings = ringName === undefined ? this.loadedRings() : [this.ring(ringName)];
    const memo = ringName === undefined ? this.allDocument : this.ringDocuments.get(ringName)!;
    const { document, nextUnpublishAt } = memo.get(rings.length, (i) => rings[i]!.current());
    let maxAgeMs = this.options.config.jwks.maxAgeMs;
    if (nextUnpublishAt !== null) maxAgeMs = Math.min(maxAgeMs, nextUnpublishAt - this.options.clock());
    return { document, maxAgeSeconds: Math.max(0, Math.floor(maxAgeMs / 1000)) };
  }
}
