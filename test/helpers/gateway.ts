// Starts a real gateway (through the real config loader) on a loopback port for a test.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import pino from 'pino';
import { buildApp, type BuildOptions } from '../../src/app.js';
import { LineSink } from '../../src/observability/line-sink.js';
import { loadConfig, sha256Hex } from '../../src/config/load.js';
import type { SignetConfig } from '../../src/config-schema.js';
import { ConfigError } from '../../src/errors.js';

export const TEST_API_KEY = 'sgt_test-client-key-0123456789abcdefghijklmnop';
export const TEST_ADMIN_KEY = 'sgt_test-admin-key-0123456789abcdefghijklmnop';

export function tempDir(prefix = 'signet-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** Writes `raw` as a config file and loads it exactly as `signet serve` would. */
export function configFrom(raw: Record<string, unknown>, env: Record<string, string> = {}): SignetConfig {
  const file = join(tempDir(), 'signet.json');
  // Each test gets its own state directory so revocations never leak between tests.
  writeFileSync(file, JSON.stringify({ state_dir: join(tempDir(), 'state'), ...raw }));
  return loadConfig({ SIGNET_CONFIG: file, ...env });
}

/** The ConfigError a config is refused with (fails the test when it loads, or fails otherwise). */
export function configFailure(raw: Record<string, unknown>, env: Record<string, string> = {}): ConfigError {
  try {
    configFrom(raw, env);
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('expected a ConfigError, but the config loaded');
}

/** A client allowed everything on the named rings (policy tests build narrower ones). */
export function openClient(rings: string[] = ['*'], apiKey = TEST_API_KEY): Record<string, unknown> {
  return { name: 'test-client', api_key_sha256: sha256Hex(apiKey), rings, audiences: ['*'], subjects: ['*'], claims: ['*'], max_ttl_seconds: 3600 };
}

export interface RunningGateway {
  app: FastifyInstance;
  url: string;
  /** The gateway's audit records, one JSON line each. */
  auditFile: string;
  close(): Promise<void>;
}

export async function startGateway(config: SignetConfig, options: BuildOptions = {}): Promise<RunningGateway> {
  const auditFile = join(tempDir('signet-audit-'), 'audit.jsonl');
  const auditSink = options.auditSink ?? LineSink.open(auditFile);
  const app = await buildApp(config, { logger: pino({ level: process.env.SIGNET_TEST_LOG ?? 'silent' }), auditSink, ...options });
  const address = await app.listen({ host: '127.0.0.1', port: 0 });
  return {
    app,
    url: address,
    auditFile,
    close: async () => {
      await app.close();
      if (!options.auditSink) auditSink.close();
    },
  };
}

/** The audit records a gateway wrote so far. */
export function auditRecords(gateway: RunningGateway): Array<Record<string, unknown>> {
  return readFileSync(gateway.auditFile, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

export async function requestToken(url: string, body: unknown, apiKey = TEST_API_KEY): Promise<{ status: number; body: any; headers: Headers }> {
  const response = await fetch(`${url}/v1/tokens`, {
    method: 'POST',
    headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: response.status, body: await response.json(), headers: response.headers };
}

/** A call to the admin API with the test admin key (or `key`). */
export function adminRequest(url: string, method: string, path: string, body?: unknown, key = TEST_ADMIN_KEY): Promise<Response> {
  return fetch(`${url}/v1/admin${path}`, {
    method,
    headers: { authorization: `Bearer ${key}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
}

/** The kids a gateway publishes at /.well-known/jwks.json, with the caching headers it sent. */
export async function publishedKids(url: string): Promise<{ kids: string[]; etag: string | null; cacheControl: string | null }> {
  const response = await fetch(`${url}/.well-known/jwks.json`);
  const body = (await response.json()) as { keys: Array<{ kid: string }> };
  return { kids: body.keys.map((k) => k.kid), etag: response.headers.get('etag'), cacheControl: response.headers.get('cache-control') };
}
