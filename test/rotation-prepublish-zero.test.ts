// The control for rotation-traffic.test.ts: the same traffic with prepublish 0 (which the config
// refuses; the test forces it) fails, which proves pre-publication is what keeps verifiers working.
import { describe, expect, it } from 'vitest';
import { kidsOf, traffic, trafficFixture } from './helpers/traffic.js';

const { replicas } = trafficFixture();

describe('rotation under traffic without pre-publication', () => {
  it('the same traffic with prepublish 0 breaks verifiers', async () => {
    const [a, b] = await replicas('nopre', (config) => {
      // The start-up invariant refuses prepublish < max-age; bypass it here to show why it exists.
      for (const ring of config.rings.values()) ring.prepublishMs = 0;
    });
    const result = await traffic(a, b, 20_000);
    const unknownKid = result.failures.filter((f) => /JWKSNoMatchingKey/.test(f.error));
    console.info(`prepublish 0: ${result.issued.length} tokens, ${kidsOf(result).size} kids, ${unknownKid.length} JWKSNoMatchingKey failures`);
    expect(kidsOf(result).size).toBeGreaterThanOrEqual(3);
    expect(unknownKid.length).toBeGreaterThan(0);
  }, 60_000);
});
