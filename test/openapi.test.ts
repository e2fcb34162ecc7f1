// The OpenAPI 3.1 document at /openapi.json: generated from the route schemas, valid by
// openapi-spec-validator, complete (every route), and then used to fuzz the running gateway with
// schemathesis: every operation, bounded examples; no 5xx, every response (errors included, in the
// documented body) matching its schema, status and content type.
import { execFile } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../src/app.js';
import { sha256Hex } from '../src/config/load.js';
import { CACHE_DIR } from './harness/tools.js';
import { configFrom, tempDir, TEST_API_KEY } from './helpers/gateway.js';

const VENV_BIN = join(CACHE_DIR, 'venv', 'bin');

function tool(name: string): string {
  const path = join(VENV_BIN, name);
  if (!existsSync(path)) {
    throw new Error(`${name} is missing from ${join(CACHE_DIR, 'venv')}. Install it with scripts/install-test-backends.sh (npm test runs it first), or by hand: ${join(VENV_BIN, 'pip')} install schemathesis==4.32.5 openapi-spec-validator==0.9.0`);
  }
  return path;
}

/**
 * Runs a command without blocking the event loop (the gateway under test lives in this process),
 * in a scratch directory: schemathesis keeps a cache in its working directory, never in the clone.
 */
function run(command: string, args: string[], timeoutMs: number): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    execFile(command, args, { cwd: tempDir(), timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024, env: { ...process.env, NO_COLOR: '1' } }, (error, stdout, stderr) => {
      resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, output: `${stdout}${stderr}` });
    });
  });
}

describe('OpenAPI document and schemathesis fuzzing', () => {
  let app: FastifyInstance;
  let url: string;
  let document: { openapi: string; paths: Record<string, Record<string, unknown>> };
  const specFile = join(tempDir(), 'openapi.json');

  beforeAll(async () => {
    const config = configFrom({
      backends: { dev: { type: 'local', data_dir: tempDir() } },
      rings: [
        { name: 'main', backend: 'dev', alg: 'ES256', create_if_missing: true },
        { name: 'other', backend: 'dev', alg: 'EdDSA', create_if_missing: true },
      ],
      // One key for the client and the admin API, so the fuzzer's single header reaches every operation.
      clients: [{ name: 'fuzz', api_key_sha256: sha256Hex(TEST_API_KEY), rings: ['*'], audiences: ['*'], subjects: ['*'], claims: ['*'], max_ttl_seconds: 3600 }],
      admin: { api_key_sha256: [sha256Hex(TEST_API_KEY)] },
    });
    app = await buildApp(config, { logger: pino({ level: 'silent' }), scheduling: false });
    url = await app.listen({ host: '127.0.0.1', port: 0 });
    const response = await fetch(`${url}/openapi.json`);
    expect(response.status).toBe(200);
    document = (await response.json()) as typeof document;
    writeFileSync(specFile, JSON.stringify(document));
  });
  afterAll(async () => app?.close());

  it('is OpenAPI 3.1 and valid by openapi-spec-validator', async () => {
    expect(document.openapi).toBe('3.1.0');
    const result = await run(tool('openapi-spec-validator'), [specFile], 60_000);
    expect(result.output.trim()).toBe(`${specFile}: OK`);
    expect(result.code).toBe(0);
  });

  it('documents every route, each with its error body', () => {
    const operations = Object.entries(document.paths).flatMap(([path, methods]) => Object.keys(methods).map((method) => `${method.toUpperCase()} ${path}`));
    expect(operations.sort()).toEqual(
      [
        'GET /.well-known/jwks.json',
        'GET /.well-known/oauth-authorization-server',
        'GET /.well-known/openid-configuration',
        'GET /healthz',
        'GET /metrics',
        'GET /readyz',
        'GET /readyz/signing',
        'GET /rings/{ring}/.well-known/jwks.json',
        'GET /rings/{ring}/.well-known/openid-configuration',
        'GET /v1/admin/rings',
        'GET /v1/admin/rings/{ring}',
        'POST /v1/admin/rings/{ring}/rotate',
        'POST /v1/admin/rings/{ring}/versions/{version}/revoke',
        'POST /oauth2/token',
        'POST /v1/tokens',
      ].sort(),
    );
    for (const [path, methods] of Object.entries(document.paths)) {
      for (const operation of Object.values(methods) as Array<{ responses: Record<string, { content?: Record<string, { schema: unknown }> }> }>) {
        expect(Object.keys(operation.responses)).toEqual(expect.arrayContaining(['4XX', '5XX']));
        const body = operation.responses['4XX']!.content!['application/json']!.schema;
        expect(body).toMatchObject({ required: ['error'], additionalProperties: false });
        // The token endpoint answers in OAuth's error body (RFC 6749 §5.2), every other route in Signet's.
        if (path === '/oauth2/token') expect(body).toMatchObject({ properties: { error: { type: 'string' }, error_description: { type: 'string' } } });
        else expect(body).toMatchObject({ properties: { error: { type: 'object' } } });
      }
    }
  });

  it('survives schemathesis on every operation: no 5xx, responses match their schemas', async () => {
    const result = await run(
      tool('schemathesis'),
      [
        '--config-file',
        join(import.meta.dirname, 'schemathesis.toml'),
        'run',
        `${url}/openapi.json`,
        '--checks',
        'not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance',
        '--header',
        `Authorization: Bearer ${TEST_API_KEY}`,
        '--max-examples',
        '50',
        '--workers',
        '1',
        '--seed',
        '20261127',
        '--generation-database',
        'none',
        '--request-timeout',
        '5',
        '--no-color',
      ],
      25_000,
    );
    expect(result.output).toMatch(/Operations:\s+15 selected \/ 15 total/);
    expect(result.output).toMatch(/Test cases:\s+\d+ generated, \d+ passed/);
    expect(result.output).not.toMatch(/\d+ failed/);
    expect({ code: result.code, output: result.code === 0 ? '' : result.output }).toEqual({ code: 0, output: '' });
    // Still healthy afterwards.
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
    expect((await fetch(`${url}/readyz`)).status).toBe(200);
  }, 30_000);
});
