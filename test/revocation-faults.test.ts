// Revocation under faults and operator actions, on real OpenBao with replicas sharing a Redis of
// the test's own (flushed, killed and restarted here; the shared one is never touched):
// revocations never come back, revoking a pending version changes nothing else, and revoking the
// active version reaches every replica before the admin call returns.
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPrivateRedis, type PrivateRedis } from './harness/redis.js';
import { adminRequest, publishedKids, type RunningGateway } from './helpers/gateway.js';
import { Replicas, eventually, signingKid, sleep, transitVersions, vaultRing } from './helpers/replicas.js';
import { inject } from 'vitest';
import { vaultRequest } from './harness/openbao.js';

const replicas = new Replicas();
let redis: PrivateRedis;
beforeAll(async () => {
  redis = await startPrivateRedis();
});
afterAll(async () => {
  await replicas.closeAll();
  await redis?.stop();
});

async function revoke(gateway: RunningGateway, ring: string, version: number): Promise<{ status: number; body: any }> {
  const response = await adminRequest(gateway.url, 'POST', `/rings/${ring}/versions/${version}/revoke`, { reason: 'test' });
  return { status: response.status, body: await response.json() };
}

/** Watches replicas for `ms`: every kid they publish or sign with. */
async function observe(gateways: RunningGateway[], ms: number): Promise<{ published: Set<string>; signed: Set<string> }> {
  const published = new Set<string>();
  const signed = new Set<string>();
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    for (const gateway of gateways) {
      for (const kid of (await publishedKids(gateway.url)).kids) published.add(kid);
      signed.add(await signingKid(gateway));
    }
    await sleep(50);
  }
  return { published, signed };
}

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
