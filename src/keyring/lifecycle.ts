// Pure rotation rules: from a ring's versions, its ledger facts, its policy and the time, which
// version signs, which are published, and when that next changes. No I/O, no clock of its own.
//
//   created ──prepublish──▶ eligible ──(newest eligible)──▶ active ──superseded──▶ retiring ──grace──▶ retired
//   any state ──operator──▶ revoked        any state ──key material changed or lost──▶ quarantined (retiring)
//
// A pending version is already in the JWKS; it signs only once every verifier's cached JWKS
// (max-age ≤ prepublish) must contain it, and only after its canary passed. A retiring version
// stays published until every token it signed has expired (grace ≥ max TTL + max-age).
//
// Superseding is monotonic: once a newer version has signed (a `signedFrom` fact, which outlives
// revocation), no older version signs again. A version that never signed supersedes nothing, so
// revoking a pending version leaves the active one signing.

export type VersionState = 'pending' | 'active' | 'retiring' | 'retired' | 'revoked';

export interface VersionFacts {
  version: number;
  /**
   * Unix ms from which the version counts as published: its backend creation time, or, for a
   * version this replica discovered after start-up, the moment it did if that is later. A backend
   * clock behind ours, or a refresh that came late, then never shortens pre-publication.
   */
  publishedAt: number;
  revoked?: boolean;
  /** The canary has not passed (it failed, or could not run yet): the version may not sign. */
  canaryFailed?: boolean;
  /** Unix ms from which the version signed (a ledger fact; early takeovers included). */
  signedFrom?: number;
  /** Unix ms at which the backend's key for this version changed or vanished: it never signs again. */
  quarantinedAt?: number;
}

export interface RotationPolicy {
  prepublishMs: number;
  graceMs: number;
  /** 0 = no scheduled rotation. */
  rotationPeriodMs: number;
}

export interface VersionStatus {
  version: number;
  state: VersionState;
  /** When this version may first sign (publishedAt + prepublish). */
  eligibleAt: number;
  /** When a newer version took over signing (or its key was quarantined), if so. */
  supersededAt?: number;
  /** When it leaves the JWKS, if known. */
  unpublishAt?: number;
  /** Its backend key changed or vanished after it was published (an integrity event). */
  quarantined?: true;
}

export interface LifecycleView {
  versions: VersionStatus[];
  /** Null when no version may sign: all revoked or quarantined, or blocked by a canary. */
  signing: number | null;
  /** Since when the signing version signs (a ledger fact, its end of prepublish, or now for an early takeover). */
  signingSince: number | null;
  /** True while the signing version's prepublish has not elapsed (after a revocation or an integrity event). */
  signingEarly: boolean;
  /** The earliest moment a pending version may take over signing, or null with none pending. */
  nextTakeoverAt: number | null;
  published: number[];
  /** Next instant at which the state of any version changes, or null. */
  nextChangeAt: number | null;
  /** Next instant at which the published set shrinks (a retire), or null. Bounds JWKS max-age. */
  nextUnpublishAt: number | null;
  /** The active version has reached rotation_period and no newer version exists, or nothing can sign and only a new version can fix that. */
  rotationDue: boolean;
  /** When scheduled rotation is next due (null: no period, or a newer version already exists). */
  rotationDueAt: number | null;
}

export function computeLifecycle(facts: readonly VersionFacts[], policy: RotationPolicy, now: number): LifecycleView {
  const sorted = [...facts].sort((a, b) => a.version - b.version);
  const eligibleAt = (v: VersionFacts): number => v.publishedAt + policy.prepublishMs;
  const usable = (v: VersionFacts): boolean => !v.revoked && v.quarantinedAt === undefined && !v.canaryFailed;
  // When a version started signing: a recorded fact (kept after revocation), or the end of its
  // prepublish if it was usable then (a key quarantined later was). A version that never signed
  // has not started.
  const startedAt = (v: VersionFacts): number | undefined => {
    if (v.signedFrom !== undefined && v.signedFrom <= now) return v.signedFrom;
    const eligible = eligibleAt(v);
    const usableThen = !v.revoked && !v.canaryFailed && (v.quarantinedAt === undefined || eligible < v.quarantinedAt);
    return usableThen && eligible <= now ? eligible : undefined;
  };
  const supersededAt = (v: VersionFacts): number | undefined => {
    let earliest: number | undefined;
    for (const w of sorted) {
      if (w.version <= v.version) continue;
      const started = startedAt(w);
      if (started !== undefined && (earliest === undefined || started < earliest)) earliest = started;
    }
    return earliest;
  };

  // The newest usable version that has started and was not superseded signs. With none (the first
  // version of a ring, or after the signing version was revoked or quarantined), the oldest usable
  // version not yet superseded signs at once: it has been published longest, no verifier can hold
  // a stale JWKS of a ring that never signed, and a revoked key must stop now (verifiers refetch
  // on the unknown kid; see README "Emergency revocation").
  const current = sorted.filter((v) => usable(v) && supersededAt(v) === undefined);
  const signer = [...current].reverse().find((v) => startedAt(v) !== undefined) ?? current[0];

  const versions: VersionStatus[] = sorted.map((v) => {
    const base: VersionStatus = { version: v.version, eligibleAt: eligibleAt(v), state: 'pending' };
    if (v.quarantinedAt !== undefined) base.quarantined = true;
    if (v.revoked) return { ...base, state: 'revoked' };
    if (v === signer) return { ...base, state: 'active' };
    let superseded = supersededAt(v);
    let unpublishAt: number | undefined;
    if (v.quarantinedAt !== undefined) {
      // Tokens it signed before the event carry exp ≤ (issue + prepublish) + grace: keep its
      // first-seen key published that long; the changed key is never published.
      superseded = Math.min(superseded ?? v.quarantinedAt, v.quarantinedAt);
      unpublishAt = v.quarantinedAt + policy.prepublishMs + policy.graceMs;
    } else if (superseded === undefined) {
      // Never signed and not passed over: pending. Older than the signer: a version blocked by its
      // canary that the early signer passes over now.
      if (!signer || v.version > signer.version) return base;
      superseded = now;
    }
    unpublishAt ??= superseded + policy.graceMs;
    return { ...base, supersededAt: superseded, unpublishAt, state: unpublishAt > now ? 'retiring' : 'retired' };
  });

  const liveNewer = signer !== undefined && sorted.some((v) => v.version > signer.version && !v.revoked && v.quarantinedAt === undefined);
  const rotationDueAt = policy.rotationPeriodMs > 0 && signer && !liveNewer ? signer.publishedAt + policy.rotationPeriodMs : null;
  // With nothing able to sign, a new version helps unless a candidate is only waiting for its
  // canary: creating more versions would not make that canary pass.
  const waitingForCanary = sorted.some((v) => !v.revoked && v.quarantinedAt === undefined && v.canaryFailed && supersededAt(v) === undefined);

  const future = (times: Array<number | undefined | null>): number | null => {
    const upcoming = times.filter((t): t is number => typeof t === 'number' && t > now);
    return upcoming.length > 0 ? Math.min(...upcoming) : null;
  };
  const pending = versions.filter((v) => v.state === 'pending');
  const nextUnpublishAt = future(versions.filter((v) => v.state === 'retiring').map((v) => v.unpublishAt));
  return {
    versions,
    signing: signer?.version ?? null,
    signingSince: signer ? (startedAt(signer) ?? now) : null,
    signingEarly: signer !== undefined && eligibleAt(signer) > now,
    nextTakeoverAt: pending.length > 0 ? Math.min(...pending.map((v) => v.eligibleAt)) : null,
    published: versions.filter((v) => v.state !== 'retired' && v.state !== 'revoked').map((v) => v.version),
    nextChangeAt: future([nextUnpublishAt, ...pending.map((v) => v.eligibleAt), signer ? eligibleAt(signer) : null, rotationDueAt]),
    nextUnpublishAt,
    rotationDue: (rotationDueAt !== null && rotationDueAt <= now) || (signer === undefined && sorted.length > 0 && !waitingForCanary),
    rotationDueAt,
  };
}

/**
 * The latest `exp` a token signed now may carry so its key stays published until it expires and
 * every cached JWKS has seen the key: the signing version leaves the JWKS no earlier than
 * (the moment a successor could take over) + grace.
 */
export function latestSafeExpiry(view: LifecycleView, policy: RotationPolicy, jwksMaxAgeMs: number, now: number): number {
  // Runs once per token: O(1) on the precomputed view, no allocation.
  const createdNowTakesOver = now + policy.prepublishMs;
  const takeover = view.nextTakeoverAt === null ? createdNowTakesOver : Math.min(view.nextTakeoverAt, createdNowTakesOver);
  return Math.max(now, takeover) + policy.graceMs - jwksMaxAgeMs;
}
