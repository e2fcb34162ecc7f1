// Pure rotation rules: from a ring's versions, its policy and the time, which version signs,
// which are published, and when that next changes. No I/O, no clock of its own.
//
//   created ──prepublish──▶ eligible ──(newest eligible)──▶ active ──superseded──▶ retiring ──grace──▶ retired
//   any state ──operator──▶ revoked
//
// A pending version is already in the JWKS; it signs only once every verifier's cached JWKS
// (max-age ≤ prepublish) must contain it. A retiring version stays published until every token it
// signed has expired (grace ≥ max TTL + max-age).

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
  /** A pending version whose canary failed never becomes active until it passes. */
  canaryFailed?: boolean;
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
  /** When a newer version took over signing, if one has. */
  supersededAt?: number;
  /** When it leaves the JWKS, if known. */
  unpublishAt?: number;
}

export interface LifecycleView {
  versions: VersionStatus[];
  /** Null only when every version is revoked (or there are none). */
  signing: number | null;
  /** True when signing fell back to a version still inside its prepublish window. */
  signingEarly: boolean;
  /** The earliest moment a pending version may take over signing, or null with none pending. */
  nextTakeoverAt: number | null;
  published: number[];
  /** Next instant at which the state of any version changes, or null. */
  nextChangeAt: number | null;
  /** Next instant at which the published set shrinks (a retire), or null. Bounds JWKS max-age. */
  nextUnpublishAt: number | null;
  /** The active version has reached rotation_period and no newer version exists yet, or nothing can sign. */
  rotationDue: boolean;
  /** When scheduled rotation is next due (null: no period, or a newer version already exists). */
  rotationDueAt: number | null;
}

export function computeLifecycle(facts: readonly VersionFacts[], policy: RotationPolicy, now: number): LifecycleView {
  const sorted = [...facts].sort((a, b) => a.version - b.version);
  const live = sorted.filter((v) => !v.revoked);
  const eligibleAt = (v: VersionFacts): number => v.publishedAt + policy.prepublishMs;
  const canSign = (v: VersionFacts): boolean => eligibleAt(v) <= now && !v.canaryFailed;

  // A version is superseded once any newer version became able to sign, revoked or not: a
  // superseded version never signs again, so a revocation cannot revive a key that verifiers may
  // already have dropped, and each version's retire time depends only on facts, not history.
  const supersededAt = (v: VersionFacts): number | undefined => {
    const times = sorted.filter((w) => w.version > v.version && canSign(w)).map(eligibleAt);
    return times.length > 0 ? Math.max(eligibleAt(v), Math.min(...times)) : undefined;
  };

  // The newest live version that has waited out prepublish and was not superseded signs. With none
  // (the first version of a ring, or a revoked active version), the oldest live version not yet
  // superseded signs at once: it has been published longest, no verifier can hold a stale JWKS of a
  // ring that never signed, and a revoked key must stop now (verifiers refetch on the unknown kid;
  // see README "Emergency revocation").
  const current = live.filter((v) => supersededAt(v) === undefined);
  let signer = [...current].reverse().find(canSign);
  const signingEarly = signer === undefined && current.length > 0;
  signer ??= current[0];

  const versions: VersionStatus[] = sorted.map((v) => {
    const base = { version: v.version, eligibleAt: eligibleAt(v) };
    if (v.revoked) return { ...base, state: 'revoked' };
    if (v.version === signer?.version) return { ...base, state: 'active' };
    if (signer && v.version > signer.version) return { ...base, state: 'pending' };
    const superseded = supersededAt(v) ?? now;
    const unpublishAt = superseded + policy.graceMs;
    return { ...base, supersededAt: superseded, unpublishAt, state: unpublishAt > now ? 'retiring' : 'retired' };
  });

  const hasNewer = signer !== undefined && live.some((v) => v.version > signer.version);
  const rotationDueAt =
    policy.rotationPeriodMs > 0 && signer && !hasNewer ? signer.publishedAt + policy.rotationPeriodMs : null;

  const future = (times: Array<number | undefined | null>): number | null => {
    const upcoming = times.filter((t): t is number => typeof t === 'number' && t > now);
    return upcoming.length > 0 ? Math.min(...upcoming) : null;
  };
  const nextUnpublishAt = future(versions.filter((v) => v.state === 'retiring').map((v) => v.unpublishAt));
  const nextChangeAt = future([
    nextUnpublishAt,
    ...versions.filter((v) => v.state === 'pending').map((v) => v.eligibleAt),
    rotationDueAt,
  ]);

  const pendingEligible = versions.filter((v) => v.state === 'pending').map((v) => v.eligibleAt);
  return {
    versions,
    signing: signer?.version ?? null,
    signingEarly,
    nextTakeoverAt: pendingEligible.length > 0 ? Math.min(...pendingEligible) : null,
    published: versions.filter((v) => v.state !== 'retired' && v.state !== 'revoked').map((v) => v.version),
    nextChangeAt,
    nextUnpublishAt,
    // Also due when no version may sign (e.g. an operator disabled the active KMS key by hand):
    // a new version restores signing instead of answering 503 until someone rotates.
    rotationDue: (rotationDueAt !== null && rotationDueAt <= now) || (signer === undefined && sorted.length > 0),
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
