// Every token the gateway returns verifies against the JWKS it serves at that moment, even when
// the key under a published version changes (a Transit key deleted and recreated under the same
// name), and no version signs before its canary passed, even when it is the only candidate.
import { createServer, type Server } from 'node:http';
import { createLocalJWKSet, decodeJwt, jwtVerify, type JSONWebKeySet } from 'jose';
import { describe, expect, inject, it } from 'vitest';
import { spkiToJwk } from '../src/jose/jwk.js';
import { pemToDer } from '../src/jose/jwk.js';
import { MOTO_REGION, provisionKmsVersion, useDummyAwsCredentials } from './harness/kms.js';
import { vaultRequest } from './harness/openbao.js';
import { adminRequest, configFrom, openClient, requestToken, startGateway, tempDir, type RunningGateway } from './helpers/gateway.js';
import { replicasWithPrivateRedis, sleep, vaultRing } from './helpers/replicas.js';

const { replicas, redis } = replicasWithPrivateRedis();

/** A webhook receiver that keeps every event's claims. */
async function webhookReceiver(): Promise<{ url: string; events: Array<Record<string, unknown>>; close(): Promise<void> }> {
  const events: Array<Record<string, unknown>> = [];
  const server: Server = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk: Buffer) => (body += chunk.toString()));
    request.on('end', () => {
      events.push(decodeJwt(body));
      response.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as { port: number }).port}/hook`, events, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

describe('key material changed under a published version', () => {
  it('a Transit key deleted and recreated under traffic: no returned token fails to verify, the new key never signs or appears under the old version', async () => {
    const hook = await webhookReceiver();
    const setup = await vaultRing('swap', { redisUrl: redis.url, top: { webhooks: [{ url: hook.url, events: ['key.integrity'], attempts: 2, initial_backoff_ms: 50 }] } });
    const [a, b] = [await replicas.start(setup), await replicas.start(setup)];
    const url = inject('openbaoUrl');

    const results = { ok: 0, unverifiable: [] as string[], statuses: new Map<number, number>(), kids: new Set<string>() };
    const jwksSeen = new Set<string>();
    const deadline = Date.now() + 9000;
    const worker = async (index: number): Promise<void> => {
      for (let n = 0; Date.now() < deadline; n++) {
        const gateway = (index + n) % 2 === 0 ? a : b;
        const { status, body } = await requestToken(gateway.url, { audience: 'https://api.test' });
        results.statuses.set(status, (results.statuses.get(status) ?? 0) + 1);
        if (status !== 200) {
          await sleep(20);
          continue;
        }
        // The JWKS this replica serves right now, with no cache: the token must verify against it.
        const jwks = (await (await fetch(`${gateway.url}/.well-known/jwks.json`)).json()) as JSONWebKeySet;
        for (const key of jwks.keys) jwksSeen.add(key.kid!);
        try {
          await jwtVerify(body.token, createLocalJWKSet(jwks), { issuer: 'https://signet.test', audience: 'https://api.test', algorithms: ['ES256'] });
          results.ok++;
          results.kids.add(body.kid);
        } catch (error) {
          results.unverifiable.push(`${(error as Error).name} (kid ${body.kid})`);
        }
        await sleep(10);
      }
    };
    const traffic = Promise.all([0, 1, 2, 3].map(worker));
    await sleep(2000);
    // The swap: what `bao delete` and `bao write transit/keys/<key>` do, with the same name and type.
    await vaultRequest(url, 'POST', `transit/keys/${setup.key}/config`, { deletion_allowed: true });
    await vaultRequest(url, 'DELETE', `transit/keys/${setup.key}`);
    await vaultRequest(url, 'POST', `transit/keys/${setup.key}`, { type: 'ecdsa-p256' });
    const swappedAt = Date.now();
    const recreated = (await vaultRequest(url, 'GET', `transit/keys/${setup.key}`)) as { data: { keys: Record<string, { public_key: string }> } };
    const impostorKid = (await spkiToJwk(pemToDer(recreated.data.keys['1']!.public_key), 'ES256')).kid;
    await traffic;

    console.info(`key swap: ${results.ok} verified tokens, ${results.unverifiable.length} unverifiable, statuses ${JSON.stringify([...results.statuses])}`);
    expect(results.unverifiable).toEqual([]);
    expect([...results.statuses.keys()].every((status) => [200, 502, 503].includes(status))).toBe(true);
    expect(jwksSeen.has(impostorKid)).toBe(false); // never published, so never signed with
    expect(results.kids.has(impostorKid)).toBe(false);
    expect(results.kids.size).toBe(2); // v1 before the swap, the replacement (the new key's v2) after it

    for (const gateway of [a, b]) {
      expect(await (await fetch(`${gateway.url}/metrics`)).text()).toMatch(/signet_key_integrity_events_total\{ring="[^"]+",kind="(material_changed|signature_mismatch)"\} [1-9]/);
      const ring = (await (await fetch(`${gateway.url}/readyz`)).json()) as { rings: Array<{ can_sign: boolean }> };
      expect(ring.rings[0]!.can_sign).toBe(true); // recovered
    }
    expect(hook.events.some((event) => event.event === 'key.integrity' && event.version === 1)).toBe(true);
    expect(Date.now() - swappedAt).toBeLessThan(30_000);
    await hook.close();
  }, 40_000);
});

describe('a gateway restarted after its key was recreated under a name that had many versions', () => {
  it('the replacement passes every version number pinned to the old key before the gateway listens: the first request gets a verifiable token', async () => {
    const url = inject('openbaoUrl');
    // A long refresh interval: recovery must not wait for the timer.
    const setup = await vaultRing('restart', { top: { refresh_interval_seconds: 60, state_dir: tempDir() }, ring: { prepublish_seconds: 70, grace_seconds: 80 } });
    const OLD_VERSIONS = 20;
    for (let i = 1; i < OLD_VERSIONS; i++) await vaultRequest(url, 'POST', `transit/keys/${setup.key}/rotate`, {});
    const config = configFrom(setup.raw);
    const before = await startGateway(config, { requireKeysAtStart: false }); // as `signet serve` starts
    expect((await requestToken(before.url, { audience: 'https://api.test' })).status).toBe(200);
    await before.close();

    await vaultRequest(url, 'POST', `transit/keys/${setup.key}/config`, { deletion_allowed: true });
    await vaultRequest(url, 'DELETE', `transit/keys/${setup.key}`);
    await vaultRequest(url, 'POST', `transit/keys/${setup.key}`, { type: 'ecdsa-p256' });

    const after = await startGateway(config, { requireKeysAtStart: false });
    try {
      const first = await requestToken(after.url, { audience: 'https://api.test' });
      expect(first.status, JSON.stringify(first.body)).toBe(200);
      const jwks = (await (await fetch(`${after.url}/.well-known/jwks.json`)).json()) as JSONWebKeySet;
      await jwtVerify(first.body.token, createLocalJWKSet(jwks), { issuer: 'https://signet.test', audience: 'https://api.test', algorithms: ['ES256'] });
      const ring = (await (await adminRequest(after.url, 'GET', `/rings/${setup.ring}`)).json()) as { signing_version: number };
      expect(ring.signing_version).toBe(OLD_VERSIONS + 1); // the first number no old key was pinned to
    } finally {
      await after.close();
    }
  }, 40_000);
});

describe('the canary gates every first signing', () => {
  it('a KMS PS256 ring on moto (maximum-length PSS salt, which verifiers reject): no token, 503, and readiness says so', async () => {
    useDummyAwsCredentials();
    const motoUrl = inject('motoUrl');
    const key = `canary-${Date.now().toString(36)}`;
    await provisionKmsVersion(motoUrl, key, 'PS256');
    const gateway: RunningGateway = await startGateway(
      configFrom({
        refresh_interval_seconds: 1,
        jwks: { max_age_seconds: 2, stale_while_revalidate_seconds: 0 },
        backends: { kms: { type: 'aws-kms', region: MOTO_REGION, endpoint: motoUrl } },
        rings: [{ name: 'pss', backend: 'kms', key, alg: 'PS256', issuer: 'https://issuer.test', max_token_ttl_seconds: 4, prepublish_seconds: 4, grace_seconds: 7 }],
        clients: [openClient()],
        state_dir: tempDir(),
      }),
    );
    try {
      const response = await requestToken(gateway.url, { audience: 'https://api.test', key: 'pss' });
      expect(response.status).toBe(503);
      expect(response.body.error.code).toBe('ERR_NO_SIGNING_VERSION');
      expect(Number(response.headers.get('retry-after'))).toBeGreaterThan(0);

      expect((await fetch(`${gateway.url}/readyz`)).status).toBe(200); // the JWKS is served
      const signing = await fetch(`${gateway.url}/readyz/signing`);
      expect(signing.status).toBe(503);
      expect(((await signing.json()) as { rings: Array<{ can_sign: boolean; reason?: string }> }).rings[0]).toMatchObject({ can_sign: false, reason: expect.stringMatching(/canary/) });
      const metrics = await (await fetch(`${gateway.url}/metrics`)).text();
      expect(metrics).toMatch(/signet_ring_can_sign\{ring="pss"\} 0/);
      expect(metrics).toMatch(/signet_key_versions\{ring="pss",state="active"\} 0/);
      expect(metrics).toMatch(/signet_canary_failures_total\{ring="pss",version="1"\} [1-9]/);

      // Waiting for a canary is not a reason to make more versions.
      await sleep(2500);
      expect(gateway.app.signet.keys.ring('pss').current().versions.map((v) => v.version)).toEqual([1]);
    } finally {
      await gateway.close();
    }
  }, 30_000);
});
