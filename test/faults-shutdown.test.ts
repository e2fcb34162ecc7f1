// SIGTERM while OpenBao is stalled: the gateway stops accepting, answers requests that still
// arrive on open connections with 503 ERR_SHUTTING_DOWN (Retry-After, Connection: close), lets the
// requests in flight finish within their deadline, flushes the audit records of every token it
// handed out, and exits 0 within the drain timeout.
import { readFileSync } from 'node:fs';
import { request as httpRequest, Agent } from 'node:http';
import { describe, expect, it } from 'vitest';
import { openBaoAndGateway } from './harness/gateway-process.js';
import { TEST_API_KEY } from './helpers/gateway.js';
import { atRate, sleep, tokenRequest } from './helpers/load.js';

const DRAIN_S = 3;

const env = openBaoAndGateway('drain', { top: { server: { drain_timeout_seconds: DRAIN_S } } });

/** A token request (or a GET of `path`) on a given keep-alive agent: the connection stays open across requests. */
function onConnection(agent: Agent, url: string, path?: string): Promise<{ status: number; code?: string; retryAfter?: string; connection?: string }> {
  return new Promise((resolve, reject) => {
    const body = path ? '' : JSON.stringify({ audience: 'https://api.test' });
    const options = path
      ? { method: 'GET', agent }
      : { method: 'POST', agent, headers: { authorization: `Bearer ${TEST_API_KEY}`, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } };
    const request = httpRequest(`${url}${path ?? '/v1/tokens'}`, options, (response) => {
      let text = '';
      response.on('data', (chunk: Buffer) => (text += chunk.toString()));
      response.on('end', () =>
        resolve({
          status: response.statusCode ?? 0,
          code: (JSON.parse(text) as { error?: { code: string } }).error?.code,
          retryAfter: response.headers['retry-after'],
          connection: response.headers.connection,
        }),
      );
    });
    request.on('error', reject);
    request.end(body);
  });
}

describe('SIGTERM during a backend stall', () => {
  it('drains within the drain timeout: 503 ERR_SHUTTING_DOWN with Retry-After and Connection: close, audit flushed, exit 0', async () => {
    // Tokens handed out before the stall, each with its audit record.
    const before = await atRate(20, 1000, () => tokenRequest(env.gateway.url));
    expect(before.every((s) => s.status === 200)).toBe(true);
    // One caller holds a keep-alive connection open; its next request arrives during the drain.
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    expect((await onConnection(agent, env.gateway.url)).status).toBe(200);
    const prober = new Agent({ keepAlive: true, maxSockets: 1 }); // a kubelet's readiness probe, likewise
    expect((await onConnection(prober, env.gateway.url, '/readyz')).status).toBe(200);

    process.kill(env.bao.process.pid!, 'SIGSTOP');
    const inFlight = atRate(20, 1000, () => tokenRequest(env.gateway.url));
    await sleep(500);
    const termAt = performance.now();
    env.gateway.child.kill('SIGTERM');
    await sleep(200);
    const late = await onConnection(agent, env.gateway.url);
    const probe = await onConnection(prober, env.gateway.url, '/readyz');
    const code = await env.gateway.exited;
    const exitMs = performance.now() - termAt;
    agent.destroy();
    prober.destroy();

    expect(code).toBe(0);
    expect(exitMs, `exited ${Math.round(exitMs)} ms after SIGTERM`).toBeLessThan(DRAIN_S * 1000);
    expect(late).toMatchObject({ status: 503, code: 'ERR_SHUTTING_DOWN', retryAfter: '1', connection: 'close' });
    expect(probe).toMatchObject({ status: 503, code: 'ERR_SHUTTING_DOWN', connection: 'close' }); // the documented body on every route
    // Requests in flight finished: 503 within their deadline (the backend is stalled), never a reset.
    // Only those sent after SIGTERM may find the listener closed (status 0: connection refused).
    const stalled = await inFlight;
    expect(stalled.filter((s) => s.status !== 503 && s.status !== 200 && s.status !== 0)).toEqual([]);
    const sentBefore = stalled.filter((s) => s.at < termAt);
    expect(sentBefore.length).toBeGreaterThan(5);
    expect(sentBefore.filter((s) => s.status === 0), 'requests in flight at SIGTERM must be answered, not reset').toEqual([]);
    const answered = stalled.filter((s) => s.status !== 0);
    for (const sample of answered.filter((s) => s.status === 503)) expect(['ERR_DEADLINE_EXCEEDED', 'ERR_BACKEND_CIRCUIT_OPEN', 'ERR_SHUTTING_DOWN']).toContain(sample.code);
    // Every token that left has its audit record on disk.
    const records = readFileSync(env.gateway.auditFile, 'utf8').split('\n').filter(Boolean);
    const handedOut = before.length + 1 + stalled.filter((s) => s.status === 200).length;
    expect(records.filter((line) => line.includes('"token.issued"'))).toHaveLength(handedOut);
    process.stdout.write(`[measured] SIGTERM during a stall: exit 0 after ${Math.round(exitMs)} ms (drain timeout ${DRAIN_S} s)\n`);
  }, 30_000);
});
