// All rings of one gateway and the JWKS documents they publish, with the Cache-Control each
// document may carry right now. Reading the backends is key-actions/refresh.ts's job.
import type { SigningBackend } from '../backends/backend.js';
import type { SignetConfig } from '../config-schema.js';
import { NotReadyError, UnknownRingError } from '../errors.js';
import { MemoisedDocument, type JwksDocument } from './jwks-document.js';
import type { Clock } from '../clock.js';
import { KeyRing } from './keyring.js';

export interface KeyServiceOptions {
  config: SignetConfig;
  backends: Map<string, SigningBackend>;
  clock: Clock;
  /** Whether a version must pass a canary before its first signing (false only in tests and read-only tools). */
  requiresCanary: boolean;
}

export class KeyService {
  readonly rings = new Map<string, KeyRing>();
  private readonly allDocument = new MemoisedDocument();
  private readonly ringDocuments = new Map<string, MemoisedDocument>();
  private loaded: KeyRing[] = [];

  constructor(private readonly options: KeyServiceOptions) {
    const { config } = options;
    for (const ringConfig of config.rings.values()) {
      const backend = options.backends.get(ringConfig.backend)!;
      this.rings.set(ringConfig.name, new KeyRing(ringConfig, backend, options.clock, config.jwks.maxAgeMs, options.requiresCanary));
      this.ringDocuments.set(ringConfig.name, new MemoisedDocument());
    }
  }

  ring(name: string): KeyRing {
    const ring = this.rings.get(name);
    if (!ring) throw new UnknownRingError(`no ring named "${name}"`);
    return ring;
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
    // A JWKS without some ring's keys would be cached by verifiers as the truth: answer 503 until all load.
    if (ringName === undefined && rings.length < this.rings.size) throw new NotReadyError('the keys of some rings have not loaded yet; retry shortly');
    const memo = ringName === undefined ? this.allDocument : this.ringDocuments.get(ringName)!;
    const { document, nextUnpublishAt } = memo.get(rings.length, (i) => rings[i]!.current());
    let maxAgeMs = this.options.config.jwks.maxAgeMs;
    if (nextUnpublishAt !== null) maxAgeMs = Math.min(maxAgeMs, nextUnpublishAt - this.options.clock());
    return { document, maxAgeSeconds: Math.max(0, Math.floor(maxAgeMs / 1000)) };
  }
}
