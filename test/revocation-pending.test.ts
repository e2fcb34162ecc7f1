// Revoking a version that never signed, on real OpenBao with replicas sharing a Redis of the
// test's own: it leaves the JWKS, nothing is created, and the active version signs on.
import { describe, expect, inject, it } from 'vitest';
import { vaultRequest } from './harness/openbao.js';
import { publishedKids } from './helpers/gateway.js';
import { replicasWithPrivateRedis, eventually, observe, revoke, signingKid, sleep, transitVersions, vaultRing } from './helpers/replicas.js';

const { replicas, redis } = replicasWithPrivateRedis();

describe('revoking a version that never signed', () => {
  it('removes it from the JWKS and creates nothing; the active version signs on without a gap', async () => {
    const setup = await vaultRing('pending', { redisUrl: redis.url });
    const a = await replicas.start(setup);
    const b = await replicas.start(setup);
    const kid1 = await signingKid(a);
    await vaultRequest(inject('openbaoUrl'), 'POST', `transit/keys/${setup.key}/rotate`, {}); // bao write -f transit/keys/<key>/rotate
    await eventually(async () => (await publishedKids(a.url)).kids.length === 2 && (await publishedKids(b.url)).kids.length === 2, 2500, 'both replicas publish v2');

    const revoked = await revoke(a, setup.ring, 2);
    expect(revoked.status).toBe(200);
    expect(revoked.body.replacement).toBeUndefined();
    // Past the moment v2 would have taken over (prepublish 4 s): v1 alone signs, with no 503.
    const seen = await observe([a, b], 5000);
    expect(seen.signed).toEqual(new Set([kid1]));
    expect(seen.published).toEqual(new Set([kid1]));
    expect((await transitVersions(setup.key)).map((v) => v.version)).toEqual([1, 2]); // nothing created
  }, 30_000);

  it('with scheduled rotation on, the active version is not cut short and the next version waits out its prepublish', async () => {
    // v1 reaches its 6 s period; the scheduler makes v2; revoking it leaves v1 signing past v2's
    // would-be takeover while the scheduler makes v3, which signs only after its own prepublish.
    const setup = await vaultRing('period', { redisUrl: redis.url, ring: { rotation_period_seconds: 6 } });
    const a = await replicas.start(setup);
    const b = await replicas.start(setup);
    const kid1 = await signingKid(a);
    await eventually(async () => (await transitVersions(setup.key)).length === 2, 10_000, 'the scheduler creates v2');
    // Revoked 1.5 s into its 4 s prepublish: its would-be takeover is 2.5 s later.
    await sleep((await transitVersions(setup.key))[1]!.created + 1500 - Date.now());
    expect((await revoke(b, setup.ring, 2)).status).toBe(200);
    await eventually(async () => (await transitVersions(setup.key)).length === 3, 4000, 'the scheduler creates v3');
    const v3 = (await transitVersions(setup.key))[2]!;

    const timeline: Array<{ at: number; kid: string }> = [];
    while (Date.now() < v3.created + 6000) {
      for (const gateway of [a, b]) timeline.push({ at: Date.now(), kid: await signingKid(gateway) });
      await sleep(50);
    }
    const kids = new Set(timeline.map((entry) => entry.kid));
    expect(kids.has(kid1)).toBe(true);
    expect([...kids].filter((kid) => kid !== kid1)).toHaveLength(1); // v1, then v3: no 503, never v2
    const kid3 = [...kids].find((kid) => kid !== kid1)!;
    const firstV3 = timeline.find((entry) => entry.kid === kid3)!.at;
    expect(firstV3 - v3.created).toBeGreaterThanOrEqual(4000); // not before its prepublish
  }, 40_000);
});
