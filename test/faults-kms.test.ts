// AWS KMS (moto, a server of the test's own) paused and restarted empty, under a gateway process:
// one deadline bounds every SDK attempt and the back-off between them (callers used to wait
// max_attempts × timeout_ms), and a KMS that lost the ring's keys is a 5xx with its own code,
// never a 404, with the ring reporting that it cannot sign.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMoto } from './harness/moto.js';
import { MOTO_REGION, provisionKmsVersion } from './harness/kms.js';
import { spawnGateway, type GatewayProcess } from './harness/gateway-process.js';
import { freePort, type RunningServer } from './harness/tools.js';
import { openClient } from './helpers/gateway.js';
import { atRate, freshGet, metricValue, sleep, tokenRequest } from './helpers/load.js';
import { eventually } from './helpers/replicas.js';

const DEADLINE_MS = 1000;
const AWS_ENV = { AWS_ACCESS_KEY_ID: 'testing', AWS_SECRET_ACCESS_KEY: 'testing', AWS_EC2_METADATA_DISABLED: 'true', AWS_PROFILE: '' };

let port: number;
let moto: RunningServer;
let gateway: GatewayProcess;

beforeAll(async () => {
  port = await freePort();
  moto = await startMoto(port);
  await provisionKmsVersion(moto.url, 'signet-kms-faults', 'ES256');
  gateway = await spawnGateway(
    {
      refresh_interval_seconds: 1,
      server: { token_deadline_ms: DEADLINE_MS },
      // The SDK's defaults for a sign: 3 attempts of up to 5 s each, with back-off between them.
      backends: { kms: { type: 'aws-kms', region: MOTO_REGION, endpoint: moto.url, max_attempts: 3, timeout_ms: 5000, circuit_cooldown_ms: 200 } },
      rings: [{ name: 'kms', backend: 'kms', key: 'signet-kms-faults', alg: 'ES256' }],
      clients: [openClient()],
    },
    { waitFor: 'readyz', env: AWS_ENV },
  );
}, 60_000);

afterAll(async () => {
  if (moto) process.kill(moto.process.pid!, 'SIGCONT');
  gateway?.kill();
  await moto?.stop();
});

describe('AWS KMS faults', () => {
  it('paused: no caller waits longer than the deadline + 100 ms across SDK attempts; recovers after SIGCONT', async () => {
    expect((await tokenRequest(gateway.url)).status).toBe(200);
    process.kill(moto.process.pid!, 'SIGSTOP');
    const tokens = await atRate(20, 3000, () => tokenRequest(gateway.url));
    const jwks = await freshGet(gateway.url, '/.well-known/jwks.json');
    process.kill(moto.process.pid!, 'SIGCONT');
    expect(tokens.filter((s) => s.status !== 503)).toEqual([]);
    for (const sample of tokens) expect(['ERR_DEADLINE_EXCEEDED', 'ERR_BACKEND_CIRCUIT_OPEN', 'ERR_BACKEND_UNAVAILABLE']).toContain(sample.code);
    const slowest = Math.max(...tokens.map((s) => s.ms));
    expect(slowest, `slowest: ${Math.round(slowest)} ms`).toBeLessThanOrEqual(DEADLINE_MS + 100);
    expect(jwks.status).toBe(200);
    await eventually(async () => (await tokenRequest(gateway.url)).status === 200, 3000, 'signing recovers after SIGCONT');
    process.stdout.write(`[measured] KMS paused: ${tokens.length} requests, all 503, max ${Math.round(slowest)} ms\n`);
  }, 30_000);

  it('restarted empty: 502 ERR_BACKEND_VERSION_MISSING or ERR_BACKEND_KEY_MISSING, not 404; the ring cannot sign; the JWKS stays', async () => {
    moto.process.kill('SIGKILL');
    await new Promise((resolve) => moto.process.once('exit', resolve));
    moto = await startMoto(port);
    await eventually(async () => (await tokenRequest(gateway.url)).status === 502, 5000, 'tokens fail with 502');
    const answers = await atRate(10, 1000, () => tokenRequest(gateway.url));
    for (const answer of answers) {
      expect(answer.status).toBe(502);
      expect(['ERR_BACKEND_VERSION_MISSING', 'ERR_BACKEND_KEY_MISSING']).toContain(answer.code);
    }
    await sleep(1500); // a refresh meets the empty KMS too
    const signing = await fetch(`${gateway.url}/readyz/signing`);
    expect(signing.status).toBe(503);
    expect(((await signing.json()) as { rings: Array<{ reason: string; refresh_error: string }> }).rings[0]).toMatchObject({ reason: expect.stringMatching(/ERR_BACKEND_(KEY|VERSION)_MISSING/), refresh_error: expect.stringMatching(/no aliases/) });
    expect((await freshGet(gateway.url, '/readyz')).status).toBe(200);
    expect((await freshGet(gateway.url, '/.well-known/jwks.json')).status).toBe(200);
    const metrics = await (await fetch(`${gateway.url}/metrics`)).text();
    expect(metricValue(metrics, 'signet_ring_can_sign', { ring: 'kms' })).toBe(0);
    expect(metricValue(metrics, 'signet_ring_refresh_failures_total', { ring: 'kms' })).toBeGreaterThan(0);
  }, 30_000);
});
