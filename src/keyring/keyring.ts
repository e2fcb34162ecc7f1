// One ring's state: the backend's versions, the ledger of facts about them (revocations, who
// signed from when, the key first seen under each version), canary verdicts, integrity
// quarantines, and the lifecycle computed from all of it. No I/O here: key-actions/refresh.ts
// reads the backend and the stores and hands the results in; everything can be rebuilt from them.
import type { Clock } from '../clock.js';
import type { KeyRef, KeyVersion, RevocationRecord, SignatureCheck, SignCall, SigningBackend } from '../backends/backend.js';
import type { RingConfig } from '../config-schema.js';
import { KeyIntegrityError, NoSigningVersionError, NotReadyError } from '../errors.js';
import { signCompact } from '../jose/compact.js';
import type { PublicJwk } from '../jose/jwk.js';
import { normaliseSignature } from '../jose/low-s.js';
import { rawVerifier, type RawVerifier } from '../jose/verify.js';
import { TokenBucket } from '../token-bucket.js';
import { emptyLedger, mergeLedgers, type RingLedger } from './ledger.js';
import { computeLifecycle, latestSafeExpiry, type LifecycleView, type RotationPolicy, type VersionFacts } from './lifecycle.js';


export interface SigningChoice {
  version: number;
  kid: string;
  /** Latest exp (Unix ms) a token signed now may carry. */
  notAfter: number;
}

export interface RingSnapshot {
  view: LifecycleView;
  /** The backend's versions at the last refresh. */
  versions: KeyVersion[];
  /** The published keys, in version order (each as first seen: a changed key is never published). */
  jwks: PublicJwk[];
}

/**
 * The backend's key for a published version is not the one published: it changed (key deleted
 * and recreated, restored, a lagging replica), it vanished, a signature did not verify against
 * it, or two stores pinned different keys under one version.
 */
export type IntegrityKind = 'material_changed' | 'vanished' | 'signature_mismatch' | 'pin_conflict';
export interface IntegrityEvent {
  ring: string;
  version: number;
  kind: IntegrityKind;
  publishedKid: string;
  foundKid?: string;
  at: number;
}

/** A backend listing with each version's public JWK already converted. */
export interface ObservedListing {
  versions: KeyVersion[];
  jwks: ReadonlyMap<number, PublicJwk>;
}

/**
 * Unbatched signs are all checked while fewer than SINGLE_CHECKS_PER_SECOND arrive; above that rate
 * one in SAMPLED_CHECK_EVERY more is, so a flood of single signs cannot make verification the
 * gateway's main cost (one ECDSA verify costs about as much CPU as the rest of a token).
 */
export const SINGLE_CHECKS_PER_SECOND = 100;
export const SAMPLED_CHECK_EVERY = 16;

export class KeyRing {
  readonly ref: KeyRef;
  readonly policy: RotationPolicy;
  private listing: KeyVersion[] = [];
  /** Every version this process has seen, and when it counts as published here (see VersionFacts.publishedAt). */
  private readonly publishedAt = new Map<number, number>();
  private facts: RingLedger = emptyLedger();
  private readonly quarantinedAt = new Map<number, number>();
  private readonly canaryPassed = new Set<string>();
  /** Keys whose signature failed the check while signing: blocked like a failed canary until one passes. */
  private readonly signatureFailed = new Set<string>();
  /** Why a version's canary did not pass, for operators. */
  readonly canaryFailures = new Map<number, string>();
  /** One check per pinned key (a pin never changes; a new pin is a new object). */
  private readonly checks = new WeakMap<object, SignatureCheck>();
  private readonly singleChecks: TokenBucket;
  private snapshot?: RingSnapshot;
  private seeded = false;
  /** Why the last refresh failed (the ring keeps serving its last good state), or undefined. */
  refreshError?: string;
  private readonly integrityListeners: Array<(event: IntegrityEvent) => void> = [];

  constructor(
    readonly config: RingConfig,
    readonly backend: SigningBackend,
    private readonly clock: Clock,
    private readonly jwksMaxAgeMs: number,
    /** Without a canary (tests, read-only tools) every version counts as having passed one. */
    readonly requiresCanary = true,
  ) {
    this.ref = { ring: config.name, key: config.key, alg: config.alg };
    this.singleChecks = new TokenBucket(SINGLE_CHECKS_PER_SECOND, SINGLE_CHECKS_PER_SECOND, clock);
    this.policy = { prepublishMs: config.prepublishMs, graceMs: config.graceMs, rotationPeriodMs: config.rotationPeriodMs };
  }

  get name(): string {
    return this.config.name;
  }

  get loaded(): boolean {
    return this.snapshot !== undefined;
  }

  /** The ring's ledger: the union of every store's copy and of what this process learned. Never shrinks. */
  get ledger(): RingLedger {
    return this.facts;
  }

  /** Called with every integrity event this ring detects, including those found while signing. */
  onIntegrity(listener: (event: IntegrityEvent) => void): void {
    this.integrityListeners.push(listener);
  }

  /** Merges ledgers read from stores into this ring's. Two different keys pinned under one version is an integrity event. */
  absorbLedgers(ledgers: readonly RingLedger[]): void {
    const { ledger, conflicts } = mergeLedgers([this.facts, ...ledgers]);
    this.facts = ledger;
    for (const { version, kids } of conflicts) this.quarantine(version, 'pin_conflict', kids[1]);
  }

  /**
   * Takes a fresh backend listing. A version seen for the first time is pinned to its key; a
   * pinned version whose key changed, or that vanished while still published, is quarantined:
   * it never signs again and only its first-seen key stays published.
   */
  absorbListing(listing: ObservedListing): void {
    const now = this.clock();
    const initialLoad = this.snapshot === undefined;
    const pins = new Map(this.facts.pins);
    const revoked = new Map(this.facts.revoked);
    const changed: Array<{ version: number; foundKid: string }> = [];
    for (const version of listing.versions) {
      const jwk = listing.jwks.get(version.version)!;
      const pinned = pins.get(version.version);
      if (!pinned) pins.set(version.version, jwk);
      else if (pinned.kid !== jwk.kid) changed.push({ version: version.version, foundKid: jwk.kid });
      if (!this.publishedAt.has(version.version)) {
        // At start-up the backend's times are all we know; after it, this replica saw the version
        // appear now, so it cannot have been in any JWKS we served before now.
        const created = version.createdAt.getTime();
        this.publishedAt.set(version.version, initialLoad ? created : Math.max(created, now));
      }
      // A backend that marks a version unusable revoked it; the fact outlives the backend's flag.
      if (version.disabled && !revoked.has(version.version)) {
        revoked.set(version.version, { version: version.version, reason: 'disabled in the backend', at: now, by: 'backend' });
      }
    }
    const listed = new Set(listing.versions.map((v) => v.version));
    const published = new Set(this.snapshot?.view.published ?? []);
    const vanished = [...this.publishedAt.keys()].filter((version) => !listed.has(version) && published.has(version) && !revoked.has(version));
    for (const version of [...this.publishedAt.keys()]) {
      // Retired, revoked or trimmed: nothing left to publish.
      if (!listed.has(version) && !vanished.includes(version) && !this.quarantinedAt.has(version)) this.publishedAt.delete(version);
    }
    this.facts = { ...this.facts, pins, revoked };
    this.listing = listing.versions;
    for (const { version, foundKid } of changed) this.quarantine(version, 'material_changed', foundKid);
    for (const version of vanished) this.quarantine(version, 'vanished');
  }

  /** Stops a version from signing at once; its first-seen key stays published through prepublish + grace. */
  quarantine(version: number, kind: IntegrityKind, foundKid?: string): IntegrityEvent | undefined {
    if (this.quarantinedAt.has(version) || !this.publishedAt.has(version)) return undefined;
    const at = this.clock();
    this.quarantinedAt.set(version, at);
    const event: IntegrityEvent = { ring: this.name, version, kind, publishedKid: this.kidOf(version) ?? '-', ...(foundKid ? { foundKid } : {}), at };
    if (this.snapshot) this.recompute();
    for (const listener of this.integrityListeners) listener(event);
    return event;
  }

  /** Applies a revocation in this process at once. Returns false if it was already known. */
  applyRevocation(record: RevocationRecord): boolean {
    if (this.facts.revoked.has(record.version)) return false;
    this.facts = { ...this.facts, revoked: new Map([...this.facts.revoked, [record.version, record]]) };
    if (this.snapshot) this.recompute();
    return true;
  }

  /** Versions that may sign soon (pending or active) whose key has not passed a canary in this process. */
  canaryCandidates(): number[] {
    if (!this.requiresCanary) return [];
    const view = computeLifecycle(this.versionFacts(), this.policy, this.clock());
    return view.versions
      .filter((v) => (v.state === 'pending' || v.state === 'active') && !v.quarantined)
      .map((v) => v.version)
      .filter((version) => !this.canaryPassed.has(this.canaryKey(version)) || this.signatureFailed.has(this.canaryKey(version)));
  }

  setCanaryResult(version: number, error?: string): void {
    if (error === undefined) {
      this.canaryPassed.add(this.canaryKey(version));
      this.signatureFailed.delete(this.canaryKey(version));
      this.canaryFailures.delete(version);
    } else {
      this.canaryFailures.set(version, error);
    }
  }

  /** The JWKS of every version the lifecycle publishes, each key as first seen. */
  publishedJwks(view: LifecycleView = this.current().view): PublicJwk[] {
    return view.published.map((version) => this.facts.pins.get(version)!);
  }

  private canaryKey(version: number): string {
    return `${version}:${this.kidOf(version)}`;
  }

  private versionFacts(): VersionFacts[] {
    const listed = new Map(this.listing.map((v) => [v.version, v]));
    return [...this.publishedAt].map(([version, publishedAt]) => ({
      version,
      publishedAt,
      revoked: this.facts.revoked.has(version) || listed.get(version)?.disabled === true,
      canaryFailed: (this.requiresCanary && !this.canaryPassed.has(this.canaryKey(version))) || this.signatureFailed.has(this.canaryKey(version)),
      signedFrom: this.facts.signedFrom.get(version),
      quarantinedAt: this.quarantinedAt.get(version),
    }));
  }

  /** Recomputes the lifecycle and records, as a ledger fact, since when the signing version signs. */
  recompute(): RingSnapshot {
    const now = this.clock();
    if (!this.seeded) this.seedSignedFrom(now);
    const view = computeLifecycle(this.versionFacts(), this.policy, now);
    if (view.signing !== null && view.signingSince !== null && !this.facts.signedFrom.has(view.signing)) {
      this.facts = { ...this.facts, signedFrom: new Map([...this.facts.signedFrom, [view.signing, view.signingSince]]) };
    }
    this.snapshot = { view, versions: this.listing, jwks: this.publishedJwks(view) };
    return this.snapshot;
  }

  /**
   * A ledger with no signing facts at all (first start, or every store lost them): rebuild them
   * from the other facts, as the rules stood before facts were kept: every version that had waited
   * out prepublish before it was revoked (or was never revoked) signed from then.
   */
  private seedSignedFrom(now: number): void {
    this.seeded = true;
    if (this.facts.signedFrom.size > 0) return;
    const signedFrom = new Map<number, number>();
    for (const [version, publishedAt] of this.publishedAt) {
      const eligibleAt = publishedAt + this.policy.prepublishMs;
      const revokedAt = this.facts.revoked.get(version)?.at;
      if (eligibleAt <= now && (revokedAt === undefined || revokedAt >= eligibleAt)) signedFrom.set(version, eligibleAt);
    }
    this.facts = { ...this.facts, signedFrom };
  }

  /** The current state; recomputed (no I/O) once the clock passes the next scheduled change. */
  current(): RingSnapshot {
    const snapshot = this.snapshot;
    if (!snapshot) throw new NotReadyError(`ring "${this.name}" has not loaded its keys yet (the backend could not be read since start-up); retrying with backoff`);
    const next = snapshot.view.nextChangeAt;
    return next !== null && this.clock() >= next ? this.recompute() : snapshot;
  }

  signer(): SigningChoice {
    const snapshot = this.current();
    const version = snapshot.view.signing;
    if (version === null) throw new NoSigningVersionError(`ring "${this.name}" has no version that may sign now`);
    return {
      version,
      kid: this.kidOf(version)!,
      notAfter: latestSafeExpiry(snapshot.view, this.policy, this.jwksMaxAgeMs, this.clock()),
    };
  }

  /** The kid of a version: that of the key first seen under it. */
  kidOf(version: number): string | undefined {
    return this.facts.pins.get(version)?.kid;
  }

  /**
   * Signs with exactly this version, checking the backend's signatures against the published key
   * (see SignatureCheck). A mismatch stops the version at once, as if its canary had failed: the
   * next refresh compares the backend's key (a changed key is quarantined) and runs the canary
   * again (a passing one lets it sign again; a failing one keeps it blocked, without making new
   * versions that the same broken backend would fail too).
   */
  async sign(version: number, signingInput: Uint8Array, call?: SignCall): Promise<Uint8Array> {
    try {
      // Low-S for ES256K from every backend (src/jose/low-s.ts); other algs pass through unchanged.
      return normaliseSignature(this.config.alg, await this.backend.sign(this.ref, version, signingInput, this.checkFor(version), call));
    } catch (error) {
      if (error instanceof KeyIntegrityError) this.blockAfterMismatch(version, error.message);
      throw error;
    }
  }

  private blockAfterMismatch(version: number, reason: string): void {
    const key = this.canaryKey(version);
    // Only a key that was trusted is news; a canary that fails this way reports itself.
    if (this.signatureFailed.has(key) || (this.requiresCanary && !this.canaryPassed.has(key))) return;
    this.signatureFailed.add(key);
    this.canaryFailures.set(version, reason);
    if (this.snapshot) this.recompute();
    const event: IntegrityEvent = { ring: this.name, version, kind: 'signature_mismatch', publishedKid: this.kidOf(version) ?? '-', at: this.clock() };
    for (const listener of this.integrityListeners) listener(event);
  }

  /** A compact JWS signed by this ring: the signing version unless one is named. */
  async signJws(payload: Record<string, unknown>, typ: string, version?: number, call?: SignCall): Promise<{ token: string; kid: string; version: number }> {
    const chosen = version ?? this.signer().version;
    const kid = this.kidOf(chosen)!;
    const token = await signCompact(this.config.alg, kid, typ, payload, (input) => this.sign(chosen, input, call));
    return { token, kid, version: chosen };
  }

  private checkFor(version: number): SignatureCheck | undefined {
    const pinned = this.facts.pins.get(version);
    if (!pinned) return undefined;
    let check = this.checks.get(pinned);
    if (!check) {
      const verify: RawVerifier = rawVerifier(pinned, this.config.alg);
      let beyondBudget = 0;
      check = {
        verify,
        sample: () => this.singleChecks.reserve(0) !== undefined || beyondBudget++ % SAMPLED_CHECK_EVERY === 0,
      };
      this.checks.set(pinned, check);
    }
    return check;
  }
}
