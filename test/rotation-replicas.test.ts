// Two replicas on real OpenBao and a Redis of the test's own: a version made by hand in OpenBao
// waits out pre-publication on every replica, and a revocation leaves every replica's JWKS at once.
import { describe, expect, inject, it } from 'vitest';
import { vaultRequest } from './harness/openbao.js';
import { adminRequest, publishedKids, requestToken, type RunningGateway } from './helpers/gateway.js';
import { sleep } from './helpers/replicas.js';
import { trafficFixture } from './helpers/traffic.js';

const { replicas } = trafficFixture();

describe('versions made outside Signet, and revocation across replicas', () => {
  it('a version created by hand in OpenBao is published within the refresh interval and signs only after prepublish', async () => {
    const [a, b, setup] = await replicas('manual', (config) => {
      for (const ring of config.rings.values()) ring.rotationPeriodMs = 0; // only the hand-made version
    });
    const kidOf = async (gateway: RunningGateway): Promise<string> => (await requestToken(gateway.url, { audience: 'x' })).body.kid;
    const before = await kidOf(a);
    await vaultRequest(inject('openbaoUrl'), 'POST', `transit/keys/${setup.key}/rotate`, {}); // bao write -f transit/keys/<k>/rotate
    const rotatedAt = Date.now();

    const published = async (gateway: RunningGateway): Promise<string[]> => (await publishedKids(gateway.url)).kids;
    while ((await published(a)).length < 2 || (await published(b)).length < 2) {
      expect(Date.now() - rotatedAt).toBeLessThan(1000 + 1000); // refresh interval + slack
      await sleep(50);
    }
    const [, fresh] = await published(a);
    expect(await published(b)).toContain(fresh);

    // Until prepublish (4 s) has passed, both replicas keep signing with the old version.
    while (Date.now() - rotatedAt < 3500) {
      expect(await kidOf(a)).toBe(before);
      expect(await kidOf(b)).toBe(before);
      await sleep(200);
    }
    // prepublish (4 s) + at most one refresh interval (1 s) before a replica saw it + 1.5 s of slack.
    await sleep(4000 + 1000 + 1500 - (Date.now() - rotatedAt));
    expect(await kidOf(a)).toBe(fresh);
    expect(await kidOf(b)).toBe(fresh);
  }, 30_000);

  it("a revocation on one replica leaves every replica's JWKS at once (Redis pub/sub)", async () => {
    const [a, b, setup] = await replicas('revoke');
    const victim = (await requestToken(b.url, { audience: 'x' })).body.kid as string;
    const response = await adminRequest(a.url, 'POST', `/rings/${setup.ring}/versions/1/revoke`, { reason: 'test' });
    expect(response.status).toBe(200);
    const revokedAt = Date.now();
    const kidsOn = async (gateway: RunningGateway): Promise<string[]> => (await publishedKids(gateway.url)).kids;
    expect(await kidsOn(a)).not.toContain(victim);
    // Documented bound: at once with Redis; at worst one refresh interval (1 s here).
    while ((await kidsOn(b)).includes(victim)) {
      expect(Date.now() - revokedAt).toBeLessThan(1000);
      await sleep(20);
    }
    console.info(`revocation reached the other replica in ${Date.now() - revokedAt} ms`);
    expect((await requestToken(b.url, { audience: 'x' })).body.kid).not.toBe(victim);
  }, 30_000);
});
