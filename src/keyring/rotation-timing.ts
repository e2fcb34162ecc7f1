// The one source for rotation timing: the rules that make rotation invisible to verifiers, and
// the defaults derived from them. Pure: used by config loading, by the start-up checks, and by
// the test that keeps the README's numbers equal to the code's.

/** How long a verifier or CDN may keep using a JWKS it fetched, and how late a replica may see a new version. */
export interface JwksStaleness {
  maxAgeMs: number;
  staleWhileRevalidateMs: number;
  /** A replica may see a new backend version this much later than it was created. */
  refreshIntervalMs: number;
}

export interface RingTiming {
  maxTokenTtlMs: number;
  prepublishMs: number;
  graceMs: number;
  /** 0 = no scheduled rotation. */
  rotationPeriodMs: number;
}

/** Margins added above each minimum by the defaults: room for clock skew and slow refreshes. */
export const PREPUBLISH_MARGIN_MS = 60_000;
export const GRACE_MARGIN_MS = 300_000;
export const DEFAULT_ROTATION_PERIOD_MS = 30 * 86_400_000;

/** A cache may serve a JWKS for max-age, then stale-while-revalidate more, fetched from a replica that saw the version one refresh late. */
export function minimumPrepublishMs(staleness: JwksStaleness): number {
  return staleness.maxAgeMs + staleness.staleWhileRevalidateMs + staleness.refreshIntervalMs;
}

/** A token signed just before takeover must verify until it expires, from a JWKS cached for max-age. */
export function minimumGraceMs(maxTokenTtlMs: number, staleness: Pick<JwksStaleness, 'maxAgeMs'>): number {
  return maxTokenTtlMs + staleness.maxAgeMs;
}

export function defaultPrepublishMs(staleness: JwksStaleness): number {
  return minimumPrepublishMs(staleness) + PREPUBLISH_MARGIN_MS;
}

export function defaultGraceMs(maxTokenTtlMs: number, staleness: Pick<JwksStaleness, 'maxAgeMs'>): number {
  return minimumGraceMs(maxTokenTtlMs, staleness) + GRACE_MARGIN_MS;
}

export interface TimingViolation {
  /** The ring field to change. */
  field: 'prepublish_seconds' | 'grace_seconds' | 'rotation_period_seconds';
  message: string;
}

/** Every rule the timing breaks, each naming the field and the fix; empty when the ring is safe. */
export function timingViolations(ring: RingTiming, staleness: JwksStaleness): TimingViolation[] {
  const s = (ms: number): string => `${ms / 1000}s`;
  const violations: TimingViolation[] = [];
  const prepublish = minimumPrepublishMs(staleness);
  if (ring.prepublishMs < prepublish) {
    violations.push({
      field: 'prepublish_seconds',
      message: `${s(ring.prepublishMs)} is shorter than jwks.max_age_seconds + jwks.stale_while_revalidate_seconds + refresh_interval_seconds (${s(prepublish)}): a verifier with a cached JWKS would meet the new kid before it can know it. Set prepublish_seconds ≥ ${prepublish / 1000}`,
    });
  }
  const grace = minimumGraceMs(ring.maxTokenTtlMs, staleness);
  if (ring.graceMs < grace) {
    violations.push({
      field: 'grace_seconds',
      message: `${s(ring.graceMs)} is shorter than max_token_ttl_seconds + jwks.max_age_seconds (${s(grace)}): tokens would outlive their key in the JWKS. Set grace_seconds ≥ ${grace / 1000}`,
    });
  }
  if (ring.rotationPeriodMs !== 0 && ring.rotationPeriodMs <= ring.prepublishMs) {
    violations.push({
      field: 'rotation_period_seconds',
      message: `${s(ring.rotationPeriodMs)} must be longer than prepublish_seconds (${s(ring.prepublishMs)}), or 0 to disable scheduled rotation`,
    });
  }
  return violations;
}
