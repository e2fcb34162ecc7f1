// OpenBao stalls (SIGSTOP) under steady token traffic, against a gateway process of its own and
// an OpenBao of the test's own: every caller gets 200 or a 503 in the documented body within the
// deadline + 100 ms, the JWKS and readiness answer throughout on new connections, the circuit
// opens and says so in /metrics and /readyz/signing, and signing recovers within 1 s of SIGCONT
// without a restart.
import { describe, expect, it } from 'vitest';
import { openBaoAndGateway } from './harness/gateway-process.js';
import { atRate, freshGet, metricValue, sleep, tokenRequest, type Sample } from './helpers/load.js';

const DEADLINE_MS = 1000;
const PAUSE_MS = 4000;
const TOKEN_RPS = 50;

const env = openBaoAndGateway('stall', { top: { refresh_interval_seconds: 2, server: { token_deadline_ms: DEADLINE_MS } }, backend: { timeout_ms: 1000, circuit_failures: 3, circuit_cooldown_ms: 300 } });

describe('OpenBao paused under load', () => {
  it('callers get 200 or a documented 503 within the deadline, the JWKS never fails, signing recovers within 1 s of SIGCONT', async () => {
    expect((await tokenRequest(env.gateway.url)).status).toBe(200);
    const baoPid = env.bao.process.pid!;
    const load = atRate(TOKEN_RPS, 1000 + PAUSE_MS + 2000, () => tokenRequest(env.gateway.url));
    const jwks = atRate(20, 1000 + PAUSE_MS + 2000, () => freshGet(env.gateway.url, '/.well-known/jwks.json'));
    const readiness = atRate(5, 1000 + PAUSE_MS + 2000, () => freshGet(env.gateway.url, '/readyz'));

    await sleep(1000);
    process.kill(baoPid, 'SIGSTOP');
    const pausedAt = performance.now();
    const during: Array<{ signing: number; metrics: string }> = [];
    while (performance.now() - pausedAt < PAUSE_MS - 300) {
      await sleep(400);
      const signing = await freshGet(env.gateway.url, '/readyz/signing');
      const metrics = await (await fetch(`${env.gateway.url}/metrics`)).text();
      during.push({ signing: signing.status, metrics });
    }
    await sleep(pausedAt + PAUSE_MS - performance.now());
    process.kill(baoPid, 'SIGCONT');
    const resumedAt = performance.now();
    const [tokens, keys, ready] = await Promise.all([load, jwks, readiness]);

    // Only 200, or 503 with a stable code, Retry-After, and the documented body.
    const statuses = new Set(tokens.map((s) => s.status));
    expect([...statuses].filter((status) => status !== 200 && status !== 503)).toEqual([]);
    const refused = tokens.filter((s) => s.status === 503);
    expect(refused.length).toBeGreaterThan(0);
    for (const sample of refused) {
      expect(['ERR_DEADLINE_EXCEEDED', 'ERR_BACKEND_CIRCUIT_OPEN', 'ERR_BACKEND_UNAVAILABLE']).toContain(sample.code);
      expect(Number(sample.retryAfter)).toBeGreaterThanOrEqual(1);
    }
    // No caller waited longer than the deadline plus 100 ms.
    const slowest = Math.max(...tokens.map((s) => s.ms));
    expect(slowest, `slowest token request: ${Math.round(slowest)} ms`).toBeLessThanOrEqual(DEADLINE_MS + 100);
    // Key discovery and readiness answered every request, on new connections, during the stall.
    expect(keys.filter((s) => s.status !== 200)).toEqual([]);
    expect(ready.filter((s) => s.status !== 200)).toEqual([]);

    // While paused: the circuit opened, the ring said it cannot sign, and the metrics moved.
    expect(during.some((d) => d.signing === 503)).toBe(true);
    const open = during.find((d) => metricValue(d.metrics, 'signet_backend_circuit_state', { backend: 'vault' }) === 2);
    expect(open, 'signet_backend_circuit_state reached 2 (open) during the pause').toBeDefined();
    expect(metricValue(open!.metrics, 'signet_ring_can_sign', { ring: 'stall' })).toBe(0);
    expect(metricValue(open!.metrics, 'signet_backend_up', { backend: 'vault' })).toBe(0);

    // Signing recovered within 1 s of SIGCONT, without a restart: every request from then on got a token.
    const afterRecovery = tokens.filter((s) => s.at >= resumedAt + 1000);
    expect(afterRecovery.length).toBeGreaterThan(20);
    expect(afterRecovery.filter((s) => s.status !== 200)).toEqual([]);
    expect((await freshGet(env.gateway.url, '/readyz/signing')).status).toBe(200);

    const metrics = await (await fetch(`${env.gateway.url}/metrics`)).text();
    expect(metricValue(metrics, 'signet_backend_circuit_state', { backend: 'vault' })).toBe(0);
    expect(metricValue(metrics, 'signet_ring_can_sign', { ring: 'stall' })).toBe(1);
    expect(metricValue(metrics, 'signet_requests_shed_total', { reason: 'circuit_open' })).toBeGreaterThan(0);
    expect(metricValue(metrics, 'signet_requests_shed_total', { reason: 'deadline' })).toBeGreaterThan(0);
    expect(metricValue(metrics, 'signet_backend_request_seconds_count', { backend: 'vault', operation: 'sign', outcome: 'timeout' })).toBeGreaterThan(0);
    expect(metricValue(metrics, 'signet_backend_request_seconds_count', { backend: 'vault', operation: 'sign', outcome: 'ok' })).toBeGreaterThan(0);
    summary('OpenBao paused', tokens, pausedAt, resumedAt);
  }, 30_000);
});

/** One line for the README's failure-mode table. */
function summary(what: string, tokens: Sample[], pausedAt: number, resumedAt: number): void {
  const paused = tokens.filter((s) => s.at >= pausedAt && s.at < resumedAt);
  const ok = paused.filter((s) => s.status === 200).length;
  const fast = paused.filter((s) => s.status === 503 && s.ms < 50).length;
  const firstOk = tokens.find((s) => s.at >= resumedAt && s.status === 200);
  process.stdout.write(
    `[measured] ${what}: ${paused.length} requests while paused: ${ok} × 200, ${paused.length - ok} × 503 (${fast} in < 50 ms); ` +
      `max ${Math.round(Math.max(...tokens.map((s) => s.ms)))} ms; first 200 started ${firstOk ? Math.round(firstOk.at - resumedAt) : '-'} ms after SIGCONT\n`,
  );
}
