// Redis down at start-up: a replica still starts (after waiting at most 2 s for Redis), from its
// own state_dir and the backend's revocation records, so a Redis outage never blocks a rollout or
// a restart, and never brings a revoked key back. Redis of the test's own, stopped here.
import { afterAll, describe, expect, it } from 'vitest';
import { spawnGateway, type GatewayProcess } from './harness/gateway-process.js';
import { adminRequest, publishedKids, requestToken } from './helpers/gateway.js';
import { replicasWithPrivateRedis, signingKid, vaultRing } from './helpers/replicas.js';
import { freshGet } from './helpers/load.js';

const { replicas, redis } = replicasWithPrivateRedis();
let late: GatewayProcess | undefined;
afterAll(() => {
  late?.kill();
});

describe('Redis down at start-up', () => {
  it('a new replica starts within seconds, ready, and neither publishes nor signs with a version revoked before', async () => {
    const setup = await vaultRing('redisdown', { redisUrl: redis.url });
    const first = await replicas.start(setup);
    const revokedKid = await signingKid(first);
    const revoke = await adminRequest(first.url, 'POST', `/rings/${setup.ring}/versions/1/revoke`, { reason: 'test' });
    expect(revoke.status).toBe(200);
    const replacementKid = ((await revoke.json()) as { replacement: { kid: string } }).replacement.kid;

    await redis.stop();
    const started = performance.now();
    late = await spawnGateway(setup.raw, { waitFor: 'readyz' });
    const readyMs = performance.now() - started;
    expect((await publishedKids(late.url)).kids).toEqual([replacementKid]);
    const token = await requestToken(late.url, { audience: 'https://api.test' });
    expect(token.status).toBe(200);
    expect(token.body.kid).toBe(replacementKid);
    expect(revokedKid).not.toBe(replacementKid);
    expect((await freshGet(late.url, '/readyz')).status).toBe(200);
    expect(late.output()).toMatch(/Redis is unreachable/);
    process.stdout.write(`[measured] Redis down: a new replica answered /readyz 200 ${Math.round(readyMs)} ms after its process started\n`);
  }, 30_000);
});
