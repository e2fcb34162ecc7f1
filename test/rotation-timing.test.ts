// One source for rotation timing: the defaults come from the same rules the start-up check
// enforces, for any max-age, refresh interval and TTL, and the README quotes them.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { defaultGraceMs, defaultPrepublishMs, timingViolations, type JwksStaleness } from '../src/keyring/rotation-timing.js';
import { configFrom, tempDir } from './helpers/gateway.js';

const ring = (extra: Record<string, unknown>) => ({ name: 'r', backend: 'dev', alg: 'ES256', ...extra });
const config = (top: Record<string, unknown>, ringFields: Record<string, unknown> = {}) =>
  configFrom({ ...top, backends: { dev: { type: 'local', data_dir: tempDir() } }, rings: [ring(ringFields)] }).rings.get('r')!;

describe('rotation timing', () => {
  it.each([
    [{ maxAgeMs: 300_000, staleWhileRevalidateMs: 60_000, refreshIntervalMs: 10_000 }, 3_600_000],
    [{ maxAgeMs: 60_000, staleWhileRevalidateMs: 0, refreshIntervalMs: 120_000 }, 300_000],
    [{ maxAgeMs: 86_400_000, staleWhileRevalidateMs: 86_400_000, refreshIntervalMs: 3_600_000 }, 31 * 86_400_000],
  ])('the defaults satisfy every invariant (%o, max TTL %d ms)', (staleness: JwksStaleness, maxTokenTtlMs: number) => {
    const timing = { maxTokenTtlMs, prepublishMs: defaultPrepublishMs(staleness), graceMs: defaultGraceMs(maxTokenTtlMs, staleness), rotationPeriodMs: 0 };
    expect(timingViolations(timing, staleness)).toEqual([]);
  });

  it('a config with a long refresh interval and no prepublish_seconds loads: the default includes the refresh interval', () => {
    const loaded = config({ refresh_interval_seconds: 120 });
    expect(loaded.prepublishMs).toBe((300 + 60 + 120 + 60) * 1000);
    expect(loaded.graceMs).toBe((3600 + 300 + 300) * 1000);
  });

  it('each broken rule names its field and the fix', () => {
    const staleness = { maxAgeMs: 300_000, staleWhileRevalidateMs: 60_000, refreshIntervalMs: 10_000 };
    const violations = timingViolations({ maxTokenTtlMs: 3_600_000, prepublishMs: 100_000, graceMs: 1000, rotationPeriodMs: 50_000 }, staleness);
    expect(violations.map((v) => v.field)).toEqual(['prepublish_seconds', 'grace_seconds', 'rotation_period_seconds']);
    expect(violations[0]!.message).toMatch(/Set prepublish_seconds ≥ 370/);
    expect(() => config({}, { prepublish_seconds: 100 })).toThrow(/rings\[0\]\.prepublish_seconds: 100s is shorter than .* Set prepublish_seconds ≥ 370/);
  });

  it('the README quotes the defaults the code computes', () => {
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    const quoted = /The defaults satisfy all three: max-age (\d+) s, swr (\d+) s, refresh (\d+) s, prepublish (\d+) s, grace\s+(\d+) s \(with max TTL (\d+) s\)/.exec(readme);
    expect(quoted, 'the README sentence with the default numbers').not.toBeNull();
    const [maxAge, swr, refresh, prepublish, grace, ttl] = quoted!.slice(1).map((n) => Number(n) * 1000);
    const staleness = { maxAgeMs: maxAge!, staleWhileRevalidateMs: swr!, refreshIntervalMs: refresh! };
    expect(prepublish).toBe(defaultPrepublishMs(staleness));
    expect(grace).toBe(defaultGraceMs(ttl!, staleness));
    expect(config({})).toMatchObject({ prepublishMs: prepublish, graceMs: grace, maxTokenTtlMs: ttl });
  });
});
