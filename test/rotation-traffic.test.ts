// Rotation under traffic (test/helpers/traffic.ts): the main run goes through scheduled rotations
// and, on top, the faults and operator actions that used to break the promise: revoking a pending
// version, revoking the active version, a Redis FLUSHALL and a Transit key deleted and recreated.
// Zero failures. rotation-prepublish-zero.test.ts runs the same traffic without pre-publication.
import { describe, expect, inject, it } from 'vitest';
import { vaultRequest } from './harness/openbao.js';
import { adminRequest, publishedKids, requestToken, type RunningGateway } from './helpers/gateway.js';
import { eventually, sleep, transitVersions } from './helpers/replicas.js';
import { kidsOf, traffic, trafficFixture } from './helpers/traffic.js';

const { redis, replicas } = trafficFixture();

describe('rotation under traffic (OpenBao, two replicas, Redis)', () => {
  it('through scheduled rotations, a pending and an active revocation, a Redis flush and a Transit key swap: zero verification failures', async () => {
    const [a, b, setup] = await replicas('traffic');
    const url = inject('openbaoUrl');
    const revokedKids = new Set<string>();
    const earlyKids = new Set<string>();
    const log: string[] = [];
    const signingKid = async (gateway: RunningGateway): Promise<string> => (await requestToken(gateway.url, { audience: 'x' })).body.kid;
    const revoke = async (version: number, kid?: string): Promise<{ kid: string; replacement?: { kid: string } }> => {
      // Counted apart from the moment the call is made: the JWKS drops the kid before the response returns.
      if (kid) revokedKids.add(kid);
      const response = await adminRequest(a.url, 'POST', `/rings/${setup.ring}/versions/${version}/revoke`, { reason: 'traffic test' });
      expect(response.status).toBe(200);
      const body = (await response.json()) as { kid: string; replacement?: { kid: string } };
      revokedKids.add(body.kid);
      return body;
    };

    const events = async (): Promise<void> => {
      const kid1 = await signingKid(a);
      // The scheduler makes v2 at 6 s; revoke it 1 s into its prepublish: v1 signs on, the
      // scheduler makes v3, which waits out its own prepublish.
      await eventually(async () => (await transitVersions(setup.key)).length >= 2, 10_000, 'v2');
      await sleep((await transitVersions(setup.key))[1]!.created + 1000 - Date.now());
      await revoke(2);
      log.push('revoked pending v2');
      // Once v3 signs, revoke it: nothing is pending, so its replacement signs at once (early).
      await eventually(async () => (await transitVersions(setup.key)).length >= 3, 4000, 'v3');
      let kid3 = '';
      await eventually(async () => {
        kid3 = await signingKid(a);
        return kid3 !== kid1 && kid3 === (await signingKid(b));
      }, 8000, 'v3 signs on both replicas');
      await sleep(1000); // the traffic gets tokens of v3 before it is revoked
      const versions = await transitVersions(setup.key);
      const active = await revoke(versions.at(-1)!.version, kid3);
      expect(active.kid).toBe(kid3);
      if (active.replacement) earlyKids.add(active.replacement.kid);
      log.push(`revoked active v${versions.at(-1)!.version}; v${versions.length + 1} signs at once`);
      await sleep(1500);
      await redis().flush();
      log.push('Redis flushed');
      await sleep(2000);
      // The key swap: deleted and recreated under its name. Every version after it that lands on a
      // pinned number is quarantined; the first fresh one signs at once (nothing else may sign).
      const before = new Set((await publishedKids(a.url)).kids);
      await vaultRequest(url, 'POST', `transit/keys/${setup.key}/config`, { deletion_allowed: true });
      await vaultRequest(url, 'DELETE', `transit/keys/${setup.key}`);
      await vaultRequest(url, 'POST', `transit/keys/${setup.key}`, { type: 'ecdsa-p256' });
      log.push('Transit key deleted and recreated');
      await eventually(async () => {
        const kid = await signingKid(a);
        if (kid && !before.has(kid)) earlyKids.add(kid);
        return kid !== undefined && !before.has(kid);
      }, 6000, 'a fresh version signs after the swap');
    };

    const result = await traffic(a, b, 22_000, { revokedKids, earlyAllowed: (kid) => earlyKids.has(kid), events });
    console.info(
      `under traffic: ${result.issued.length} tokens, ${kidsOf(result).size} kids, ${result.failures.length} failures, ` +
        `${result.issued.filter((entry) => revokedKids.has(entry.kid)).length} tokens of revoked versions counted apart, ${result.earlyTokens} early (after the active revocation and the swap); ` +
        `statuses ${JSON.stringify([...result.statuses])}; ${log.join('; ')}`,
    );
    expect(result.issued.length).toBeGreaterThan(500);
    expect(result.failures).toEqual([]);
    expect(kidsOf(result).size).toBeGreaterThanOrEqual(4); // v1, v3, v3's replacement, the fresh version after the swap
    expect([...result.statuses.keys()].every((status) => [200, 502, 503].includes(status))).toBe(true);
    // No revoked kid ever signed after its revocation, even through the Redis flush.
    for (const gateway of [a, b]) for (const kid of (await publishedKids(gateway.url)).kids) expect(revokedKids.has(kid)).toBe(false);
  }, 90_000);
});
