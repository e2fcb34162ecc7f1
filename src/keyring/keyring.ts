// One ring's view of its backend key: the versions, their JWKs, and the lifecycle computed from
// them. It holds no state the backend doesn't: everything here can be rebuilt from listVersions
// and the shared revocation list, which is why replicas agree without talking to each other.
import type { KeyRef, KeyVersion, SigningBackend } from '../backends/backend.js';
import type { RingConfig } from '../config/schema.js';
import { NoSigningVersionError } from '../errors.js';
import { spkiToJwk, type PublicJwk } from '../jose/jwk.js';
import { computeLifecycle, latestSafeExpiry, type LifecycleView, type RotationPolicy, type VersionFacts } from './lifecycle.js';

export type Clock = () => number;

/** Where revocations live so that every replica sees them (Redis, or a file for one process). */
export interface RevocationSource {
  revokedVersions(ring: string): Promise<Set<number>>;
}

/** Proves a version can sign something a verifier accepts before it may take over signing. */
export type Canary = (ring: KeyRing, version: number, publishedJwks: PublicJwk[]) => Promise<void>;

export interface SigningChoice {
  version: number;
  kid: string;
  /** Latest exp (Unix ms) a token signed now may carry. */
  notAfter: number;
}

interface CachedJwk {
  spkiHex: string;
  jwk: PublicJwk;
}

export interface RingSnapshot {
  view: LifecycleView;
  versions: KeyVersion[];
  /** The published keys, in version order. */
  jwks: PublicJwk[];
}

export class KeyRing {
  readonly ref: KeyRef;
  readonly policy: RotationPolicy;
  private readonly jwkCache = new Map<number, CachedJwk>();
  /** Canary verdicts per version, for this process. A failure is retried on the next refresh. */
  private readonly canaryPassed = new Set<string>();
  readonly canaryFailures = new Map<number, string>();
  private versions: KeyVersion[] = [];
  /** When each version counts as published here (see VersionFacts.publishedAt). */
  private readonly publishedAt = new Map<number, number>();
  private revoked = new Set<number>();
  private snapshot?: RingSnapshot;

  constructor(
    readonly config: RingConfig,
    readonly backend: SigningBackend,
    private readonly clock: Clock,
    private readonly jwksMaxAgeMs: number,
    private readonly revocations?: RevocationSource,
    private readonly canary?: Canary,
  ) {
    this.ref = { ring: config.name, key: config.key, alg: config.alg };
    this.policy = { prepublishMs: config.prepublishMs, graceMs: config.graceMs, rotationPeriodMs: config.rotationPeriodMs };
  }

  get name(): string {
    return this.config.name;
  }

  get loaded(): boolean {
    return this.snapshot !== undefined;
  }

  /** Re-reads versions and revocations from shared state, converts new public keys, runs canaries. */
  async refresh(): Promise<void> {
    const [versions, revoked] = await Promise.all([
      this.backend.listVersions(this.ref),
      this.revocations?.revokedVersions(this.name) ?? Promise.resolve(new Set<number>()),
    ]);
    for (const version of versions) await this.jwkFor(version);
    const initialLoad = this.snapshot === undefined;
    const now = this.clock();
    for (const version of versions) {
      if (!this.publishedAt.has(version.version)) {
        // At start-up the backend's times are all we know; after it, this replica saw the version
        // appear now, so it cannot have been in any JWKS we served before now.
        const created = version.createdAt.getTime();
        this.publishedAt.set(version.version, initialLoad ? created : Math.max(created, now));
      }
    }
    this.versions = versions;
    this.revoked = revoked;
    if (this.canary) await this.runCanaries();
    this.recompute();
  }

  private async jwkFor(version: KeyVersion): Promise<PublicJwk> {
    const spkiHex = Buffer.from(version.spki).toString('hex');
    const cached = this.jwkCache.get(version.version);
    if (cached?.spkiHex === spkiHex) return cached.jwk; // public keys are immutable per version: convert once
    const jwk = await spkiToJwk(version.spki, this.config.alg);
    this.jwkCache.set(version.version, { spkiHex, jwk });
    return jwk;
  }

  private facts(): VersionFacts[] {
    return this.versions.map((v) => ({
      version: v.version,
      publishedAt: this.publishedAt.get(v.version)!,
      revoked: this.revoked.has(v.version) || v.disabled === true,
      canaryFailed: this.canaryFailures.has(v.version),
    }));
  }

  private async runCanaries(): Promise<void> {
    const view = computeLifecycle(this.facts(), this.policy, this.clock());
    const published = this.jwksOf(view);
    const candidates = view.versions.filter((v) => v.state === 'pending' || v.state === 'active');
    await Promise.all(
      candidates.map(async ({ version }) => {
        const kid = this.jwkCache.get(version)?.jwk.kid;
        const key = `${version}:${kid}`;
        if (this.canaryPassed.has(key)) return;
        try {
          await this.canary!(this, version, published);
          this.canaryPassed.add(key);
          this.canaryFailures.delete(version);
        } catch (error) {
          this.canaryFailures.set(version, error instanceof Error ? error.message : String(error));
        }
      }),
    );
  }

  private jwksOf(view: LifecycleView): PublicJwk[] {
    return view.published.map((version) => this.jwkCache.get(version)!.jwk);
  }

  private recompute(): RingSnapshot {
    const view = computeLifecycle(this.facts(), this.policy, this.clock());
    this.snapshot = { view, versions: this.versions, jwks: this.jwksOf(view) };
    return this.snapshot;
  }

  /** The current state; recomputed (no I/O) once the clock passes the next scheduled change. */
  current(): RingSnapshot {
    const snapshot = this.snapshot;
    if (!snapshot) throw new NoSigningVersionError(`ring "${this.name}" has not loaded its keys yet`);
    const next = snapshot.view.nextChangeAt;
    return next !== null && this.clock() >= next ? this.recompute() : snapshot;
  }

  /** Applies a revocation to this process at once (the shared store carries it to the others). */
  markRevoked(version: number): void {
    this.revoked = new Set([...this.revoked, version]);
    if (this.snapshot) this.recompute();
  }

  signer(): SigningChoice {
    const snapshot = this.current();
    const version = snapshot.view.signing;
    if (version === null) throw new NoSigningVersionError(`ring "${this.name}" has no version that may sign (all revoked?)`);
    return {
      version,
      kid: this.kidOf(version)!,
      notAfter: latestSafeExpiry(snapshot.view, this.policy, this.jwksMaxAgeMs, this.clock()),
    };
  }

  kidOf(version: number): string | undefined {
    return this.jwkCache.get(version)?.jwk.kid;
  }
}
