// The pure rotation rules, table-driven on an injected clock (minutes from t0).
import { describe, expect, it } from 'vitest';
import { computeLifecycle, latestSafeExpiry, type RotationPolicy, type VersionFacts } from '../src/keyring/lifecycle.js';

const MIN = 60_000;
const t0 = Date.UTC(2026, 0, 1);
const at = (minutes: number): number => t0 + minutes * MIN;
// prepublish 10 min, grace 60 min, rotation every 24 h
const policy: RotationPolicy = { prepublishMs: 10 * MIN, graceMs: 60 * MIN, rotationPeriodMs: 24 * 60 * MIN };
const v = (version: number, createdMinute: number, extra: Partial<VersionFacts> = {}): VersionFacts => ({ version, publishedAt: at(createdMinute), ...extra });

interface Row {
  name: string;
  versions: VersionFacts[];
  now: number;
  states: Record<number, string>;
  signing: number | null;
  published: number[];
  early?: boolean;
  nextChange?: number | null;
}

const rows: Row[] = [
  { name: 'no versions', versions: [], now: 0, states: {}, signing: null, published: [], nextChange: null },
  { name: 'a single brand-new version signs at once (no verifier can hold a stale JWKS of an unused ring)', versions: [v(1, 0)], now: 1, states: { 1: 'active' }, signing: 1, published: [1], early: true, nextChange: at(10) },
  { name: 'a second version made while the first still signs early does not take over', versions: [v(1, 0), v(2, 1)], now: 2, states: { 1: 'active', 2: 'pending' }, signing: 1, published: [1, 2], early: true },
  { name: 'with two early versions after a revocation, the one published longest signs', versions: [v(1, 0, { revoked: true }), v(2, 1), v(3, 2)], now: 3, states: { 1: 'revoked', 2: 'active', 3: 'pending' }, signing: 2, published: [2, 3], early: true },
  { name: 'a single old version is active', versions: [v(1, 0)], now: 30, states: { 1: 'active' }, signing: 1, published: [1], early: false },
  { name: 'a new version is pending and published before it signs', versions: [v(1, 0), v(2, 100)], now: 105, states: { 1: 'active', 2: 'pending' }, signing: 1, published: [1, 2], nextChange: at(110) },
  { name: 'exactly at prepublish the new version takes over; the old one retires', versions: [v(1, 0), v(2, 100)], now: 110, states: { 1: 'retiring', 2: 'active' }, signing: 2, published: [1, 2], nextChange: at(170) },
  { name: 'after grace the old version leaves the JWKS', versions: [v(1, 0), v(2, 100)], now: 170, states: { 1: 'retired', 2: 'active' }, signing: 2, published: [2] },
  { name: 'several pending versions: the newest eligible signs, the others are published', versions: [v(1, 0), v(2, 100), v(3, 103), v(4, 200)], now: 115, states: { 1: 'retiring', 2: 'retiring', 3: 'active', 4: 'pending' }, signing: 3, published: [1, 2, 3, 4] },
  { name: 'a version that never signed still retires with grace from when it was passed over', versions: [v(1, 0), v(2, 100), v(3, 103)], now: 113 + 60, states: { 1: 'retired', 2: 'retired', 3: 'active' }, signing: 3, published: [3] },
  { name: 'clock skew: a version stamped in our future stays pending until created+prepublish', versions: [v(1, 0), v(2, 130)], now: 125, states: { 1: 'active', 2: 'pending' }, signing: 1, published: [1, 2], nextChange: at(140) },
  { name: 'revoking a pending version unpublishes it; the active one keeps signing', versions: [v(1, 0), v(2, 100, { revoked: true }), v(3, 101)], now: 105, states: { 1: 'active', 2: 'revoked', 3: 'pending' }, signing: 1, published: [1, 3] },
  { name: 'revoking the active version: its replacement signs at once, the superseded one is not revived', versions: [v(1, 0), v(2, 100, { revoked: true, signedFrom: at(110) }), v(3, 114)], now: 115, states: { 1: 'retiring', 2: 'revoked', 3: 'active' }, signing: 3, published: [1, 3], early: true },
  { name: 'the superseded version retires on its own schedule, counted from the revoked successor taking over', versions: [v(1, 0), v(2, 100, { revoked: true, signedFrom: at(110) }), v(3, 114)], now: 170, states: { 1: 'retired', 2: 'revoked', 3: 'active' }, signing: 3, published: [3], early: false },
  { name: 'a revoked version that never signed supersedes nothing: the active one keeps signing past its would-be takeover', versions: [v(1, 0), v(2, 100, { revoked: true })], now: 115, states: { 1: 'active', 2: 'revoked' }, signing: 1, published: [1], early: false },
  { name: 'superseding is monotonic: with the revocations lost, signing facts still keep old versions from signing', versions: [v(1, 0), v(2, 100, { signedFrom: at(101) }), v(3, 102, { signedFrom: at(103) }), v(4, 104)], now: 105, states: { 1: 'retiring', 2: 'retiring', 3: 'active', 4: 'pending' }, signing: 3, published: [1, 2, 3, 4], early: true },
  { name: 'an early takeover recorded as a fact is no longer early once its prepublish has elapsed', versions: [v(1, 0, { revoked: true }), v(2, 100, { signedFrom: at(101) })], now: 111, states: { 1: 'revoked', 2: 'active' }, signing: 2, published: [2], early: false },
  { name: 'the only candidate whose canary failed never signs', versions: [v(1, 0, { canaryFailed: true })], now: 1, states: { 1: 'pending' }, signing: null, published: [1] },
  { name: 'a replacement whose canary failed does not sign after the active version is revoked', versions: [v(1, 0, { revoked: true, signedFrom: at(10) }), v(2, 100, { canaryFailed: true })], now: 101, states: { 1: 'revoked', 2: 'pending' }, signing: null, published: [2] },
  { name: 'a quarantined active version stops signing at once; the pending one signs early; its first-seen key stays published through prepublish + grace', versions: [v(1, 0), v(2, 100, { quarantinedAt: at(178) }), v(3, 175)], now: 180, states: { 1: 'retired', 2: 'retiring', 3: 'active' }, signing: 3, published: [2, 3], early: true, nextChange: at(185) },
  { name: 'the quarantined key stays published through prepublish + grace from the event', versions: [v(1, 0), v(2, 100, { quarantinedAt: at(178) }), v(3, 175)], now: 186, states: { 1: 'retired', 2: 'retiring', 3: 'active' }, signing: 3, published: [2, 3], early: false, nextChange: at(178 + 10 + 60) },
  { name: 'a pending version whose key vanished never signs', versions: [v(1, 0), v(2, 100, { quarantinedAt: at(101) })], now: 120, states: { 1: 'active', 2: 'retiring' }, signing: 1, published: [1, 2] },
  { name: 'revoking the only eligible version leaves the new pending one signing early', versions: [v(1, 0, { revoked: true }), v(2, 100)], now: 101, states: { 1: 'revoked', 2: 'active' }, signing: 2, published: [2], early: true },
  { name: 'every version revoked: nothing signs, nothing is published', versions: [v(1, 0, { revoked: true })], now: 5, states: { 1: 'revoked' }, signing: null, published: [] },
  { name: 'a pending version whose canary failed does not take over', versions: [v(1, 0), v(2, 100, { canaryFailed: true })], now: 200, states: { 1: 'active', 2: 'pending' }, signing: 1, published: [1, 2] },
];

describe('computeLifecycle', () => {
  it.each(rows)('$name', (row) => {
    const view = computeLifecycle(row.versions, policy, at(row.now));
    expect(Object.fromEntries(view.versions.map((s) => [s.version, s.state]))).toEqual(row.states);
    expect(view.signing).toBe(row.signing);
    expect(view.published).toEqual(row.published);
    if (row.early !== undefined) expect(view.signingEarly).toBe(row.early);
    if (row.nextChange !== undefined) expect(view.nextChangeAt).toBe(row.nextChange);
  });

  it('rotation is due when the active version reaches rotation_period and no newer version exists', () => {
    const versions = [v(1, 0)];
    expect(computeLifecycle(versions, policy, at(24 * 60 - 1)).rotationDue).toBe(false);
    const due = computeLifecycle(versions, policy, at(24 * 60));
    expect(due.rotationDue).toBe(true);
    expect(due.rotationDueAt).toBe(at(24 * 60));
    // Once a successor exists (pending), rotation is no longer due: exactly one new version per period.
    expect(computeLifecycle([...versions, v(2, 24 * 60)], policy, at(24 * 60 + 1)).rotationDue).toBe(false);
  });

  it('rotation is due at once when no version may sign, whatever the period', () => {
    const disabledByHand = [v(1, 0), v(2, 100, { revoked: true, signedFrom: at(110) })]; // v1 superseded by v2, then v2 revoked
    const view = computeLifecycle(disabledByHand, { ...policy, rotationPeriodMs: 0 }, at(200));
    expect(view.signing).toBeNull();
    expect(view.rotationDue).toBe(true);
    expect(computeLifecycle([], policy, at(0)).rotationDue).toBe(false);
  });

  it('rotation is due when every version is quarantined, but not while a candidate only waits for its canary', () => {
    expect(computeLifecycle([v(1, 0, { quarantinedAt: at(50) })], policy, at(60)).rotationDue).toBe(true);
    const blocked = computeLifecycle([v(1, 0, { canaryFailed: true })], policy, at(60));
    expect(blocked.signing).toBeNull();
    expect(blocked.rotationDue).toBe(false);
  });

  it('revoking a pending version makes no rotation due while the active one is within its period', () => {
    const view = computeLifecycle([v(1, 0), v(2, 100, { revoked: true })], policy, at(120));
    expect(view.signing).toBe(1);
    expect(view.rotationDue).toBe(false);
    expect(view.rotationDueAt).toBe(at(24 * 60));
  });

  it('a period of 0 disables scheduled rotation', () => {
    expect(computeLifecycle([v(1, 0)], { ...policy, rotationPeriodMs: 0 }, at(10 ** 6)).rotationDueAt).toBeNull();
  });

  it('nextUnpublishAt is the earliest retire, the bound for JWKS max-age', () => {
    const view = computeLifecycle([v(1, 0), v(2, 100)], policy, at(120));
    expect(view.nextUnpublishAt).toBe(at(170));
  });

  it('is deterministic for shuffled input', () => {
    const versions = [v(3, 103), v(1, 0), v(2, 100)];
    expect(computeLifecycle(versions, policy, at(150))).toEqual(computeLifecycle([...versions].reverse(), policy, at(150)));
  });
});

describe('latestSafeExpiry', () => {
  const maxAge = 5 * MIN;
  it('with no successor, a token may live until a successor created now could take over, plus grace, less max-age', () => {
    const view = computeLifecycle([v(1, 0)], policy, at(30));
    expect(latestSafeExpiry(view, policy, maxAge, at(30))).toBe(at(30 + 10 + 60 - 5));
  });
  it('a pending successor brings the bound forward to its takeover', () => {
    const view = computeLifecycle([v(1, 0), v(2, 100)], policy, at(105));
    expect(latestSafeExpiry(view, policy, maxAge, at(105))).toBe(at(110 + 60 - 5));
  });
});
