// OpenBao unreachable, killed, restarted empty, and Signet's token revoked, against gateway
// processes (`signet serve`) and an OpenBao of the test's own:
// - started while OpenBao is down, the gateway stays up, not ready, retries with backoff, and
//   serves the JWKS and signs once OpenBao is back, without a restart;
// - killed under a running gateway, callers get fast 503s and the JWKS stays up;
// - restarted empty (a dev server keeps keys in memory), the key is gone: 502
//   ERR_BACKEND_KEY_MISSING, never a 404, and the ring reports that it cannot sign;
// - with Signet's token revoked, every sign fails and nothing reports "able to sign".
import { afterAll, describe, expect, it } from 'vitest';
import { OPENBAO_ROOT_TOKEN, startOpenBao, vaultRequest } from './harness/openbao.js';
import { spawnGateway, type GatewayProcess } from './harness/gateway-process.js';
import { freePort, type RunningServer } from './harness/tools.js';
import { openClient } from './helpers/gateway.js';
import { freshGet, metricValue, sleep, tokenRequest } from './helpers/load.js';
import { eventually } from './helpers/replicas.js';

const running: Array<{ stop(): unknown }> = [];
afterAll(async () => {
  for (const item of running.reverse()) await item.stop();
});

function ringConfig(address: string, token = OPENBAO_ROOT_TOKEN): Record<string, unknown> {
  return {
    refresh_interval_seconds: 1,
    backends: { vault: { type: 'vault-transit', address, token, timeout_ms: 1000, circuit_cooldown_ms: 200 } },
    rings: [{ name: 'down', backend: 'vault', key: 'signet-down', alg: 'ES256' }],
    clients: [openClient()],
  };
}

async function baoOn(port: number): Promise<RunningServer> {
  const bao = await startOpenBao(port);
  running.push(bao);
  await vaultRequest(bao.url, 'POST', 'transit/keys/signet-down', { type: 'ecdsa-p256' });
  return bao;
}

function gatewayProcess(gateway: GatewayProcess): GatewayProcess {
  running.push({ stop: () => gateway.kill() });
  return gateway;
}

describe('OpenBao down', () => {
  it('at start-up: the gateway starts not ready, never exits, and serves once OpenBao is back', async () => {
    const port = await freePort();
    const gateway = gatewayProcess(await spawnGateway(ringConfig(`http://127.0.0.1:${port}`)));
    let exited = false;
    void gateway.exited.then(() => (exited = true));

    expect(await freshGet(gateway.url, '/healthz')).toMatchObject({ status: 200 });
    const readyz = await fetch(`${gateway.url}/readyz`);
    expect(readyz.status).toBe(503);
    expect(await readyz.json()).toMatchObject({ status: 'not_ready', rings: [{ name: 'down', loaded: false, can_sign: false, reason: expect.stringMatching(/not loaded/) }] });
    // No JWKS at all rather than an empty one a verifier would cache.
    expect(await freshGet(gateway.url, '/.well-known/jwks.json')).toMatchObject({ status: 503, code: 'ERR_NOT_READY', retryAfter: '1' });
    expect(await tokenRequest(gateway.url)).toMatchObject({ status: 503, code: 'ERR_NOT_READY', retryAfter: '1' });

    await sleep(1500); // a few retries fail
    expect(exited).toBe(false);
    await baoOn(port);
    const backAt = performance.now();
    await eventually(async () => (await freshGet(gateway.url, '/readyz')).status === 200, 5000, 'ready once OpenBao answers');
    const readyAfter = performance.now() - backAt;
    const jwks = await fetch(`${gateway.url}/.well-known/jwks.json`);
    expect(jwks.status).toBe(200);
    expect(((await jwks.json()) as { keys: unknown[] }).keys).toHaveLength(1);
    expect((await tokenRequest(gateway.url)).status).toBe(200);
    expect(exited).toBe(false);
    process.stdout.write(`[measured] started with OpenBao down: ready ${Math.round(readyAfter)} ms after OpenBao came back\n`);
  }, 30_000);

  it('killed, then restarted empty: fast 503s while down, 502 ERR_BACKEND_KEY_MISSING after, the JWKS served throughout', async () => {
    const port = await freePort();
    let bao = await baoOn(port);
    const gateway = gatewayProcess(await spawnGateway(ringConfig(bao.url), { waitFor: 'readyz' }));
    expect((await tokenRequest(gateway.url)).status).toBe(200);

    bao.process.kill('SIGKILL');
    await new Promise((resolve) => bao.process.once('exit', resolve));
    const down: Array<{ status: number; code?: string; ms: number }> = [];
    for (let i = 0; i < 20; i++) {
      const started = performance.now();
      const answer = await tokenRequest(gateway.url);
      down.push({ ...answer, ms: performance.now() - started });
      expect((await freshGet(gateway.url, '/.well-known/jwks.json')).status).toBe(200);
      await sleep(50);
    }
    expect(down.filter((d) => d.status !== 503)).toEqual([]);
    for (const d of down) expect(['ERR_BACKEND_UNAVAILABLE', 'ERR_BACKEND_CIRCUIT_OPEN']).toContain(d.code);
    expect(Math.max(...down.map((d) => d.ms))).toBeLessThan(200); // refused connections: no waiting
    expect((await freshGet(gateway.url, '/readyz')).status).toBe(200); // keys loaded: stays in service for the JWKS
    expect((await freshGet(gateway.url, '/readyz/signing')).status).toBe(503);

    // Restarted empty: the key the ring names no longer exists.
    bao = await startOpenBao(port);
    running.push(bao);
    await eventually(async () => (await tokenRequest(gateway.url)).code === 'ERR_BACKEND_KEY_MISSING', 5000, 'tokens fail with ERR_BACKEND_KEY_MISSING');
    const missing = await tokenRequest(gateway.url);
    expect(missing.status).toBe(502);
    const signing = await fetch(`${gateway.url}/readyz/signing`);
    expect(signing.status).toBe(503);
    expect(((await signing.json()) as { rings: Array<{ reason: string }> }).rings[0]!.reason).toMatch(/ERR_BACKEND_KEY_MISSING/);
    expect((await freshGet(gateway.url, '/.well-known/jwks.json')).status).toBe(200);
    const metrics = await (await fetch(`${gateway.url}/metrics`)).text();
    expect(metricValue(metrics, 'signet_ring_can_sign', { ring: 'down' })).toBe(0);
    expect(metricValue(metrics, 'signet_request_errors_total', { code: 'ERR_BACKEND_KEY_MISSING' })).toBeGreaterThan(0);
    expect(metricValue(metrics, 'signet_ring_refresh_failures_total', { ring: 'down' })).toBeGreaterThan(0);
  }, 30_000);

  it('with Signet\'s token revoked: every sign fails with 503 and the ring does not report that it can sign', async () => {
    const bao = await baoOn(await freePort());
    const created = (await vaultRequest(bao.url, 'POST', 'auth/token/create', { policies: ['root'], ttl: '1h' })) as { auth: { client_token: string } };
    const token = created.auth.client_token;
    const gateway = gatewayProcess(await spawnGateway(ringConfig(bao.url, token), { waitFor: 'readyz' }));
    expect((await tokenRequest(gateway.url)).status).toBe(200);
    expect((await freshGet(gateway.url, '/readyz/signing')).status).toBe(200);

    await vaultRequest(bao.url, 'POST', 'auth/token/revoke', { token });
    const refused = await tokenRequest(gateway.url);
    expect(refused).toMatchObject({ status: 503, code: 'ERR_BACKEND_UNAVAILABLE' });
    const signing = await fetch(`${gateway.url}/readyz/signing`);
    expect(signing.status).toBe(503);
    expect(((await signing.json()) as { rings: Array<{ can_sign: boolean; reason: string }> }).rings[0]).toMatchObject({ can_sign: false, reason: expect.stringMatching(/permission denied/) });
    // Refreshes are refused too; the circuit stays closed (Vault answers, it says no) and the ring still cannot sign.
    await sleep(1500);
    const metrics = await (await fetch(`${gateway.url}/metrics`)).text();
    expect(metricValue(metrics, 'signet_ring_can_sign', { ring: 'down' })).toBe(0);
    expect(metricValue(metrics, 'signet_backend_circuit_state', { backend: 'vault' })).toBe(0);
    expect((await freshGet(gateway.url, '/readyz')).status).toBe(200);
  }, 30_000);
});
