// 5xx answers say in words what failed; what the backend, undici or ioredis said goes to the log
// only. The Vault failure is injected with a backend wrapper (a real Transit cannot be made to
// time out on cue); the Redis failure is real: a redis-server of our own, stopped mid-test.
import { Writable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import pino from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { buildApp } from '../src/app.js';
import type { KeyRef, SigningBackend } from '../src/backends/backend.js';
import { LocalBackend } from '../src/backends/local.js';
import { sha256Hex } from '../src/config/load.js';
import { BackendUnavailableError } from '../src/errors.js';
import { freePort, startServer, type RunningServer } from './harness/tools.js';
import { configFrom, openClient, tempDir, TEST_ADMIN_KEY, TEST_API_KEY } from './helpers/gateway.js';

function capturingLogger(): { logger: pino.Logger; lines: string[] } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  return { logger: pino({ level: 'info' }, stream), lines };
}

const open: Array<{ close(): Promise<unknown> }> = [];
afterAll(async () => {
  for (const item of open.reverse()) await item.close();
});

describe('5xx messages', () => {
  it('a Transit timeout answers in words; undici and Transit details only reach the log', async () => {
    const dataDir = tempDir();
    const local = new LocalBackend({ dataDir });
    // What VaultTransitBackend throws when undici gives up waiting for Transit's headers.
    const stalled: SigningBackend = Object.assign(Object.create(local) as SigningBackend, {
      sign: async (ref: KeyRef) => {
        throw new BackendUnavailableError(`Transit sign for ring "${ref.ring}" (key "${ref.key}"): UND_ERR_HEADERS_TIMEOUT`, { cause: Object.assign(new Error('Headers Timeout Error'), { code: 'UND_ERR_HEADERS_TIMEOUT' }) });
      },
    });
    const config = configFrom({ backends: { dev: { type: 'local', data_dir: dataDir } }, rings: [{ name: 'default', backend: 'dev', key: 'signet-default', alg: 'ES256', create_if_missing: true }], clients: [openClient()] });
    const { logger, lines } = capturingLogger();
    const app = await buildApp(config, { logger, backends: new Map([['dev', stalled]]), canary: false, scheduling: false });
    open.push(app);
    await app.ready();

    const response = await app.inject({ method: 'POST', url: '/v1/tokens', headers: { authorization: `Bearer ${TEST_API_KEY}`, 'content-type': 'application/json' }, payload: { audience: 'a' } });
    expect(response.statusCode).toBe(503);
    expect(response.headers['retry-after']).toBe('1');
    const { error } = JSON.parse(response.body) as { error: { code: string; message: string } };
    expect(error.code).toBe('ERR_BACKEND_UNAVAILABLE');
    expect(error.message).toMatch(/^the key backend \(Vault\/KMS\) or the shared state \(Redis\) could not be reached or refused the call; retry after 1 s \(details in the gateway log, reqId /);
    expect(error.message).not.toMatch(/UND_ERR|Transit|signet-default|Headers Timeout/);

    // The OAuth token endpoint keeps its own error body (RFC 6749 §5.2), with the same words.
    const basic = Buffer.from(`test-client:${TEST_API_KEY}`).toString('base64');
    const oauth = await app.inject({ method: 'POST', url: '/oauth2/token', headers: { authorization: `Basic ${basic}`, 'content-type': 'application/x-www-form-urlencoded' }, payload: 'grant_type=client_credentials&audience=a' });
    expect(oauth.statusCode).toBe(503);
    expect(oauth.headers['retry-after']).toBe('1');
    const oauthError = JSON.parse(oauth.body) as { error: string; error_description: string };
    expect(oauthError.error).toBe('temporarily_unavailable');
    expect(oauthError.error_description).toMatch(/^the key backend \(Vault\/KMS\) or the shared state \(Redis\) could not be reached or refused the call; retry after 1 s \(details in the gateway log, reqId /);
    expect(oauthError.error_description).not.toMatch(/UND_ERR|Transit|signet-default|Headers Timeout/);

    await new Promise((resolve) => logger.flush(resolve));
    expect(lines.join('')).toContain('UND_ERR_HEADERS_TIMEOUT');
    expect(lines.filter((line) => line.includes('token endpoint could not answer')).join('')).toContain('UND_ERR_HEADERS_TIMEOUT');
  });

  it('an internal error says only that the gateway failed, with the request id to find it in the log', async () => {
    const dataDir = tempDir();
    const local = new LocalBackend({ dataDir });
    const broken: SigningBackend = Object.assign(Object.create(local) as SigningBackend, {
      sign: async () => {
        throw new TypeError("Cannot read properties of undefined (reading 'secret_path')");
      },
    });
    const config = configFrom({ backends: { dev: { type: 'local', data_dir: dataDir } }, rings: [{ name: 'default', backend: 'dev', alg: 'ES256', create_if_missing: true }], clients: [openClient()] });
    const { logger, lines } = capturingLogger();
    const app = await buildApp(config, { logger, backends: new Map([['dev', broken]]), canary: false, scheduling: false });
    open.push(app);
    await app.ready();
    const response = await app.inject({ method: 'POST', url: '/v1/tokens', headers: { authorization: `Bearer ${TEST_API_KEY}`, 'content-type': 'application/json' }, payload: { audience: 'a' } });
    expect(response.statusCode).toBe(500);
    const { error } = JSON.parse(response.body) as { error: { code: string; message: string } };
    expect(error.code).toBe('ERR_INTERNAL');
    expect(error.message).toMatch(/^the gateway failed unexpectedly \(details in the gateway log, reqId \S+\)$/);
    await new Promise((resolve) => logger.flush(resolve));
    expect(lines.join('')).toContain('secret_path');
  });

  it('a revocation during a Redis outage is kept in state_dir and the backend, and gets its replacement; ioredis text only reaches the log', async () => {
    const port = await freePort();
    let redis: RunningServer | undefined = await startServer('redis-error-messages', 'redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], `redis://127.0.0.1:${port}`, async () => {
      const { Redis } = await import('ioredis');
      const probe = new Redis(`redis://127.0.0.1:${port}`, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
      probe.on('error', () => undefined);
      try {
        await probe.connect();
        return (await probe.ping()) === 'PONG';
      } finally {
        probe.disconnect();
      }
    });
    open.push({ close: async () => redis?.stop() });
    const config = configFrom({
      redis_url: `redis://127.0.0.1:${port}`,
      backends: { dev: { type: 'local', data_dir: tempDir() } },
      rings: [{ name: 'default', backend: 'dev', alg: 'ES256', create_if_missing: true }],
      admin: { api_key_sha256: [sha256Hex(TEST_ADMIN_KEY)] },
    });
    const { logger, lines } = capturingLogger();
    const app: FastifyInstance = await buildApp(config, { logger, canary: false, scheduling: false });
    open.push(app);
    await app.ready();
    await redis.stop();
    redis = undefined;

    const response = await app.inject({ method: 'POST', url: '/v1/admin/rings/default/versions/1/revoke', headers: { authorization: `Bearer ${TEST_ADMIN_KEY}` } });
    expect(response.statusCode).toBe(200);
    const result = JSON.parse(response.body) as { recorded_in: string[]; replacement?: { version: number } };
    expect(result.recorded_in).toEqual(['state_dir', 'backend']);
    expect(result.replacement?.version).toBe(2);
    expect(response.body).not.toMatch(/ECONNREFUSED|maxRetriesPerRequest|Connection is closed|127\.0\.0\.1/);
    await new Promise((resolve) => logger.flush(resolve));
    expect(lines.join('')).toMatch(/Redis .* failed/);
    expect(lines.join('')).toMatch(/going on without the shared lock/);
  });
});
