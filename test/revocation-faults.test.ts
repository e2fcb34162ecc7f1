// Revocation under faults and operator actions, on real OpenBao with replicas sharing a Redis of
// the test's own (flushed, killed and restarted here; the shared one is never touched):
// revocations never come back, and revoking the active version reaches every replica before the
// admin call returns. revocation-pending.test.ts revokes versions that never signed.
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { adminRequest, type RunningGateway } from './helpers/gateway.js';
import { replicasWithPrivateRedis, eventually, observe, revoke, signingKid, vaultRing } from './helpers/replicas.js';

const { replicas, redis } = replicasWithPrivateRedis();

const metric = async (gateway: RunningGateway, pattern: RegExp): Promise<number> => {
  const match = pattern.exec(await (await fetch(`${gateway.url}/metrics`)).text());
  return match ? Number(match[1]) : 0;
};

describe('revocations never come back', () => {
  it('survive a Redis flush and a Redis restart without persistence, on running replicas and on a new one', async () => {
    const setup = await vaultRing('lost', { redisUrl: redis.url });
    const a = await replicas.start(setup);
    const b = await replicas.start(setup);
    const kid1 = await signingKid(a);

    // Revoke v1 (v2 is made and signs at once), then v2 (v3 likewise).
    const first = await revoke(a, setup.ring, 1);
    expect(first.status).toBe(200);
    const kid2 = first.body.replacement.kid as string;
    const second = await revoke(b, setup.ring, 2);
    const kid3 = second.body.replacement.kid as string;
    expect(second.body.replacement.version).toBe(3);
    await eventually(async () => (await signingKid(a)) === kid3 && (await signingKid(b)) === kid3, 2000, 'both replicas sign with v3');
    const revokedKids = [kid1, kid2];

    for (const fault of ['flush', 'restart'] as const) {
      await (fault === 'flush' ? redis.flush() : redis.restart());
      // Two refresh intervals: the replicas notice, keep their own copies and write them back.
      const seen = await observe([a, b], 2500);
      expect([...seen.published].filter((kid) => revokedKids.includes(kid)), `published after a Redis ${fault}`).toEqual([]);
      expect([...seen.signed].filter((kid) => revokedKids.includes(kid)), `signed after a Redis ${fault}`).toEqual([]);
      expect(seen.signed).toEqual(new Set([kid3]));
      const client = new Redis(redis.url);
      await eventually(async () => (await client.hkeys(`signet:revoked:${setup.ring}`)).sort().join() === '1,2', 3000, `revocations written back to Redis after the ${fault}`);
      client.disconnect();
    }
    // Both replicas saw Redis' generation marker vanish (once per fault) and said so.
    for (const gateway of [a, b]) expect(await metric(gateway, /signet_state_data_loss_total\{store="redis"\} (\d+)/)).toBeGreaterThanOrEqual(2);

    // A replica with an empty state_dir, started after Redis lost everything again, learns the
    // revocations from the backend's own records (OpenBao KV beside the key).
    await redis.flush();
    const fresh = await replicas.start(setup);
    const seen = await observe([fresh], 1500);
    expect([...seen.published].filter((kid) => revokedKids.includes(kid))).toEqual([]);
    expect(seen.signed).toEqual(new Set([kid3]));
  }, 60_000);
});

describe('revoking the active version', () => {
  it('stops every replica signing with it before the admin call returns, and names the version that signs next', async () => {
    // A long refresh interval: only the announcement can reach replica b in time.
    const setup = await vaultRing('active', { redisUrl: redis.url, top: { refresh_interval_seconds: 30, jwks: { max_age_seconds: 2, stale_while_revalidate_seconds: 0 } }, ring: { prepublish_seconds: 40, grace_seconds: 40 } });
    const a = await replicas.start(setup);
    const b = await replicas.start(setup);
    const kid1 = await signingKid(b);
    for (let i = 0; i < 2; i++) expect((await adminRequest(a.url, 'POST', `/rings/${setup.ring}/rotate`)).status).toBe(200); // v2 and v3 pending
    await b.app.signet.refresh.refreshAll({ throwOnError: true });

    const revoked = await revoke(a, setup.ring, 1);
    const afterwards = await signingKid(b);
    expect(afterwards).not.toBe(kid1);
    expect(revoked.body.replacement).toEqual({ version: 2, kid: afterwards }); // the oldest pending version signs, and is named
    expect(await signingKid(a)).toBe(afterwards);
    const lag = /signet_revocation_propagation_seconds_sum\{ring="[^"]+"\} ([0-9.e-]+)/.exec(await (await fetch(`${b.url}/metrics`)).text());
    expect(lag).not.toBeNull();
    console.info(`revocation applied on the other replica ${(Number(lag![1]) * 1000).toFixed(1)} ms after it was recorded`);
  }, 30_000);
});
