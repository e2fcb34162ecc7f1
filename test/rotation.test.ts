// Rotation through the HTTP surface, on the local backend with a clock the test moves:
// pre-publication, grace, Cache-Control bounds, scheduled and manual rotation, revocation,
// signed webhooks with retries, the canary, and the admin API's own credentials.
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { decodeProtectedHeader } from 'jose';
import { afterEach, describe, expect, it } from 'vitest';
import { sha256Hex } from '../src/config/load.js';
import type { RunningGateway } from './helpers/gateway.js';
import { adminRequest, configFrom, openClient, publishedKids, requestToken, startGateway, tempDir, TEST_ADMIN_KEY, TEST_API_KEY } from './helpers/gateway.js';
import { TestClock } from './helpers/clock.js';
import { remoteVerifier } from './helpers/verify.js';

const S = 1000;
// max-age 60 s + swr 0 + refresh 10 s ≤ prepublish 120 s; grace 600 ≥ TTL 300 + 60; period 1 h
const RING = { name: 'main', backend: 'dev', alg: 'ES256', create_if_missing: true, max_token_ttl_seconds: 300, prepublish_seconds: 120, grace_seconds: 600, rotation_period_seconds: 3600 };

const open: Array<{ close(): Promise<void> }> = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((item) => item.close()));
});

async function gatewayWith(clock: TestClock, extra: Record<string, unknown> = {}, options: Parameters<typeof startGateway>[1] = {}): Promise<RunningGateway> {
  const gateway = await startGateway(
    configFrom({
      jwks: { max_age_seconds: 60, stale_while_revalidate_seconds: 0 },
      backends: { dev: { type: 'local', data_dir: tempDir() } },
      rings: [RING],
      clients: [openClient()],
      admin: { api_key_sha256: [sha256Hex(TEST_ADMIN_KEY)] },
      ...extra,
    }),
    { clock: clock.now, ...options },
  );
  open.push(gateway);
  return gateway;
}

const admin = adminRequest;
const jwks = publishedKids;

async function signingKid(url: string): Promise<string> {
  const { body } = await requestToken(url, { audience: 'aud' });
  return decodeProtectedHeader(body.token).kid!;
}

describe('rotation lifecycle over HTTP', () => {
  it('publishes a new version before it signs, and keeps the old one for grace', async () => {
    const clock = new TestClock();
    const gateway = await gatewayWith(clock);
    const v1 = await signingKid(gateway.url);
    const start = await jwks(gateway.url);
    expect(start.kids).toEqual([v1]);
    expect(start.cacheControl).toBe('public, max-age=60, stale-while-revalidate=0, stale-if-error=86400');

    const rotated = await admin(gateway.url, 'POST', '/rings/main/rotate');
    expect(rotated.status).toBe(200);
    const { kid: v2 } = (await rotated.json()) as { kid: string };
    const pending = await jwks(gateway.url);
    expect(pending.kids).toEqual([v1, v2]); // published at once…
    expect(pending.etag).not.toBe(start.etag);
    expect(await signingKid(gateway.url)).toBe(v1); // …but not signing yet

    clock.advance(119 * S);
    expect(await signingKid(gateway.url)).toBe(v1);
    clock.advance(2 * S);
    expect(await signingKid(gateway.url)).toBe(v2); // after prepublish
    const retiring = await jwks(gateway.url);
    expect(retiring.kids).toEqual([v1, v2]);
    expect(retiring.etag).toBe(pending.etag);

    clock.advance(590 * S); // 9 s before v1 leaves: no cache may keep this document past that
    expect((await jwks(gateway.url)).cacheControl).toMatch(/max-age=(8|9),/);
    clock.advance(10 * S);
    const after = await jwks(gateway.url);
    expect(after.kids).toEqual([v2]);
    expect(after.etag).not.toBe(pending.etag);
  });

  it('answers If-None-Match with 304 until the published set changes', async () => {
    const clock = new TestClock();
    const gateway = await gatewayWith(clock);
    const { etag } = await jwks(gateway.url);
    const cached = await fetch(`${gateway.url}/.well-known/jwks.json`, { headers: { 'if-none-match': `W/${etag}, "other"` } });
    expect(cached.status).toBe(304);
    expect(cached.headers.get('etag')).toBe(etag);
    await admin(gateway.url, 'POST', '/rings/main/rotate');
    expect((await fetch(`${gateway.url}/.well-known/jwks.json`, { headers: { 'if-none-match': etag! } })).status).toBe(200);
  });

  it('scheduled rotation creates exactly one version per period', async () => {
    const clock = new TestClock();
    const gateway = await gatewayWith(clock);
    const { keys, rotation, refresh } = gateway.app.signet;
    const ring = keys.ring('main');
    expect(await rotation.rotateIfDue(ring)).toBeUndefined(); // not due yet
    clock.advance(3600 * S);
    const results = await Promise.all([rotation.rotateIfDue(ring), rotation.rotateIfDue(ring), refresh.refreshAll({ throwOnError: true })]);
    await refresh.refreshAll({ throwOnError: true });
    await new Promise((resolve) => setTimeout(resolve, 100)); // let a refresh-triggered attempt finish
    expect(results.filter((r) => typeof r === 'number')).toHaveLength(1);
    expect(ring.current().versions.map((v) => v.version)).toEqual([1, 2]);
    expect(ring.current().view.rotationDue).toBe(false);
  });

  it('revocation removes the kid from the JWKS and from signing at once, and notifies a webhook with a verifiable JWT', async () => {
    const received: string[] = [];
    let failuresLeft = 2;
    const receiver: Server = createServer((request: IncomingMessage, response) => {
      let body = '';
      request.on('data', (chunk: Buffer) => (body += chunk.toString()));
      request.on('end', () => {
        if (failuresLeft-- > 0) return void response.writeHead(500).end();
        received.push(body);
        response.writeHead(204).end();
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    open.push({ close: () => new Promise<void>((resolve) => receiver.close(() => resolve())) });
    const hookUrl = `http://127.0.0.1:${(receiver.address() as { port: number }).port}/signet`;

    const clock = new TestClock();
    const gateway = await gatewayWith(clock, { webhooks: [{ url: hookUrl, attempts: 4, initial_backoff_ms: 20 }] });
    const v1 = await signingKid(gateway.url);
    const response = await admin(gateway.url, 'POST', '/rings/main/versions/1/revoke', { reason: 'key material exposed in a core dump' });
    expect(response.status).toBe(200);
    const result = (await response.json()) as { version: number; kid: string; replacement: { version: number; kid: string } };
    expect(result).toMatchObject({ version: 1, kid: v1, replacement: { version: 2 } });

    expect((await jwks(gateway.url)).kids).toEqual([result.replacement.kid]);
    expect(await signingKid(gateway.url)).toBe(result.replacement.kid);

    const deadline = Date.now() + 5000;
    while (received.length === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(received).toHaveLength(1); // delivered on the third attempt
    expect(decodeProtectedHeader(received[0]!).typ).toBe('signet-event+jwt');
    const event = await remoteVerifier(`${gateway.url}/.well-known/jwks.json`, 'ES256').jwtVerify(received[0]!, { audience: `urn:signet:webhook:${hookUrl}` });
    expect(event.payload).toMatchObject({ event: 'key.revoked', ring: 'main', version: 1, kid: v1, reason: 'key material exposed in a core dump', replacement: result.replacement });

    // The revocation outlives a restart: it is in shared state, not in this process.
    const list = (await (await admin(gateway.url, 'GET', '/rings/main')).json()) as { versions: Array<{ version: number; state: string }> };
    expect(list.versions.map((v) => [v.version, v.state])).toEqual([[1, 'revoked'], [2, 'active']]);
  });

  it('revoking the active version while a newer one is pending makes that one sign at once, without creating another', async () => {
    const clock = new TestClock();
    const gateway = await gatewayWith(clock);
    await admin(gateway.url, 'POST', '/rings/main/rotate');
    const response = await admin(gateway.url, 'POST', '/rings/main/versions/1/revoke', { reason: 'test' });
    const result = (await response.json()) as { replacement: { version: number; kid: string } };
    expect(result.replacement.version).toBe(2);
    expect(await signingKid(gateway.url)).toBe(result.replacement.kid);
    expect(gateway.app.signet.keys.ring('main').current().versions.map((v) => v.version)).toEqual([1, 2]);
  });

  it('a version whose canary fails stays pending; the old version keeps signing', async () => {
    const clock = new TestClock();
    let failVersion2 = true;
    const gateway = await gatewayWith(clock, {}, {
      canary: async (_ring, version) => {
        if (version === 2 && failVersion2) throw new Error('simulated: signature does not verify');
      },
    });
    const v1 = await signingKid(gateway.url);
    await admin(gateway.url, 'POST', '/rings/main/rotate');
    clock.advance(200 * S);
    await gateway.app.signet.refresh.refreshAll({ throwOnError: true });
    expect(await signingKid(gateway.url)).toBe(v1);
    const ring = (await (await admin(gateway.url, 'GET', '/rings/main')).json()) as { versions: Array<{ version: number; state: string; canary_error?: string }> };
    expect(ring.versions[1]).toMatchObject({ version: 2, state: 'pending', canary_error: 'simulated: signature does not verify' });
    const metrics = await (await fetch(`${gateway.url}/metrics`)).text();
    expect(metrics).toMatch(/signet_canary_failures_total\{ring="main",version="2"\} [1-9]/);

    failVersion2 = false;
    await gateway.app.signet.refresh.refreshAll({ throwOnError: true });
    expect(await signingKid(gateway.url)).not.toBe(v1);
  });

  it('sees versions another process added to the local key file (signet keys rotate beside a running server)', async () => {
    const clock = new TestClock();
    const gateway = await gatewayWith(clock);
    const ring = gateway.app.signet.keys.ring('main');
    const { LocalBackend } = await import('../src/backends/local.js');
    const dataDir = (gateway.app.signet.config.backends.get('dev') as { dataDir: string }).dataDir;
    await new LocalBackend({ dataDir }).createVersion(ring.ref); // another process
    await gateway.app.signet.refresh.refreshAll({ throwOnError: true });
    expect((await jwks(gateway.url)).kids).toHaveLength(2);
  });

  it('the admin API takes only admin keys, and its errors have codes', async () => {
    const gateway = await gatewayWith(new TestClock());
    expect((await admin(gateway.url, 'GET', '/rings', undefined, TEST_API_KEY)).status).toBe(401);
    const anonymous = await fetch(`${gateway.url}/v1/admin/rings`);
    expect(anonymous.status).toBe(401);
    expect(((await anonymous.json()) as { error: { code: string } }).error.code).toBe('ERR_UNAUTHENTICATED');
    const missing = await admin(gateway.url, 'POST', '/rings/main/versions/99/revoke', {});
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as { error: { code: string } }).error.code).toBe('ERR_UNKNOWN_VERSION');
    const badVersion = await admin(gateway.url, 'POST', '/rings/main/versions/abc/revoke', {});
    expect(badVersion.status).toBe(400);
    const unknownRing = await admin(gateway.url, 'POST', '/rings/nope/rotate');
    expect(unknownRing.status).toBe(404);
    const listing = (await (await admin(gateway.url, 'GET', '/rings')).json()) as { rings: Array<Record<string, unknown>> };
    expect(listing.rings[0]).toMatchObject({ name: 'main', alg: 'ES256', signing_version: 1, backend: 'local' });
    expect(JSON.stringify(listing)).not.toMatch(/PRIVATE|"d":/);
  });
});
