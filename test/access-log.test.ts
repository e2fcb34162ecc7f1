// The access log: off by default; when on, exactly one line per request, with method, route
// pattern, status, duration, request id and the caller's name once known, and nothing a caller
// sent that could be a secret (Authorization, API keys, tokens, bodies, query strings).
import { Writable } from 'node:stream';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { sha256Hex } from '../src/config/load.js';
import { adminRequest, configFrom, openClient, requestToken, startGateway, tempDir, TEST_ADMIN_KEY, TEST_API_KEY } from './helpers/gateway.js';

type Line = Record<string, unknown>;

async function gatewayWithLog(raw: Record<string, unknown>, env: Record<string, string> = {}) {
  let logged = '';
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      logged += chunk.toString();
      done();
    },
  });
  const gateway = await startGateway(
    configFrom(
      {
        backends: { dev: { type: 'local', data_dir: tempDir() } },
        rings: [{ name: 'main', backend: 'dev', alg: 'ES256', create_if_missing: true }],
        clients: [openClient()],
        admin: { keys: [{ name: 'ops', api_key_sha256: sha256Hex(TEST_ADMIN_KEY) }] },
        ...raw,
      },
      env,
    ),
    { logger: pino({ level: 'info' }, sink) },
  );
  const lines = (): Line[] => logged.split('\n').filter(Boolean).map((line) => JSON.parse(line) as Line);
  return { gateway, lines, text: () => logged };
}

describe('access log', () => {
  it('is off by default', async () => {
    const { gateway, lines } = await gatewayWithLog({});
    try {
      expect((await requestToken(gateway.url, { audience: 'https://api.test' })).status).toBe(200);
      await fetch(`${gateway.url}/.well-known/jwks.json`);
    } finally {
      await gateway.close();
    }
    expect(lines().filter((line) => line.msg === 'request')).toEqual([]);
  });

  it('writes one line per request, with who asked and nothing secret (server.access_log)', async () => {
    const { gateway, lines, text } = await gatewayWithLog({ server: { access_log: true } });
    const sent: Array<{ id: string | null; status: number }> = [];
    let token = '';
    try {
      const issued = await fetch(`${gateway.url}/v1/tokens?api_key=${TEST_API_KEY}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${TEST_API_KEY}`, 'content-type': 'application/json', 'x-request-id': 'access-1' },
        body: JSON.stringify({ audience: 'https://api.test', claims: { secret_claim: 'claim-value-not-for-logs' } }),
      });
      token = ((await issued.json()) as { token: string }).token;
      sent.push({ id: issued.headers.get('x-request-id'), status: issued.status });
      const refused = await requestToken(gateway.url, { audience: 'https://api.test' }, 'sgt_wrong-key-not-for-logs');
      sent.push({ id: refused.headers.get('x-request-id'), status: refused.status });
      for (const path of ['/.well-known/jwks.json', '/no-such-route']) {
        const response = await fetch(`${gateway.url}${path}`);
        sent.push({ id: response.headers.get('x-request-id'), status: response.status });
      }
      const admin = await adminRequest(gateway.url, 'GET', '/rings');
      sent.push({ id: admin.headers.get('x-request-id'), status: admin.status });
    } finally {
      await gateway.close();
    }
    const access = lines().filter((line) => line.msg === 'request');
    expect(access.map((line) => line.reqId)).toEqual(sent.map((s) => s.id)); // one line each, in order
    expect(access.map((line) => line.status)).toEqual([200, 401, 200, 404, 200]);
    expect(access.map(({ method, route, client }) => ({ method, route, client }))).toEqual([
      { method: 'POST', route: '/v1/tokens', client: 'test-client' },
      { method: 'POST', route: '/v1/tokens', client: undefined }, // not known: the key was refused
      { method: 'GET', route: '/.well-known/jwks.json', client: undefined },
      { method: 'GET', route: 'unmatched', client: undefined },
      { method: 'GET', route: '/v1/admin/rings', client: 'admin:ops' },
    ]);
    expect(access[0]!.reqId).toBe('access-1');
    for (const line of access) expect(line.ms).toEqual(expect.any(Number));
    for (const secret of [TEST_API_KEY, TEST_ADMIN_KEY, 'sgt_wrong-key-not-for-logs', token, 'claim-value-not-for-logs']) expect(text()).not.toContain(secret);
    expect(text()).not.toMatch(/authorization|api_key=/i);
  });

  it('SIGNET_ACCESS_LOG=true turns it on', async () => {
    const { gateway, lines } = await gatewayWithLog({}, { SIGNET_ACCESS_LOG: 'true' });
    try {
      await fetch(`${gateway.url}/healthz`);
    } finally {
      await gateway.close();
    }
    expect(lines().filter((line) => line.msg === 'request').map((line) => line.route)).toEqual(['/healthz']);
  });
});
