// signet/client against a real gateway: caching until a fraction of the lifetime, one request for
// many concurrent callers, retries after Retry-After, a workload token file read again when it
// rotates, and the package export `signet/client` as an installed package resolves it.
import { execFile } from 'node:child_process';
import { copyFileSync, existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTokenSource, SignetClientError, type TokenSource } from '../src/client/index.js';
import type { SigningBackend } from '../src/backends/backend.js';
import { LocalBackend } from '../src/backends/local.js';
import { sha256Hex } from '../src/config/load.js';
import { BackendUnavailableError } from '../src/errors.js';
import { auditRecords, configFrom, startGateway, tempDir, type RunningGateway } from './helpers/gateway.js';
import { TestIssuer } from './helpers/test-issuer.js';

const run = promisify(execFile);
const ROOT = join(import.meta.dirname, '..');
const APP_KEY = 'sgt_sdk-client-key-0123456789abcdefghijklmn';
const SLOW_KEY = 'sgt_sdk-limited-key-0123456789abcdefghijkl';

describe('signet/client', () => {
  let gateway: RunningGateway;
  let issuer: TestIssuer;
  const sources: TokenSource[] = [];
  const source = (options: Parameters<typeof createTokenSource>[0]): TokenSource => {
    const created = createTokenSource(options);
    sources.push(created);
    return created;
  };
  const issuedFor = (audience: string) => auditRecords(gateway).filter((record) => record.aud === audience).length;

  beforeAll(async () => {
    issuer = await TestIssuer.start('signet');
    gateway = await startGateway(
      configFrom({
        backends: { dev: { type: 'local', data_dir: tempDir() } },
        rings: [{ name: 'main', backend: 'dev', alg: 'ES256', create_if_missing: true }],
        identity_providers: [{ name: 'k8s', issuer: issuer.url, audiences: ['signet'] }],
        clients: [
          { name: 'app', api_key_sha256: sha256Hex(APP_KEY), rings: ['main'], audiences: ['*'], claims: ['*'] },
          { name: 'slow', api_key_sha256: sha256Hex(SLOW_KEY), rings: ['main'], audiences: ['*'], rate_limit_per_second: 1, rate_limit_burst: 1 },
          { name: 'orders', identities: [{ provider: 'k8s', claims: { sub: 'system:serviceaccount:orders:*' } }], subject_from: 'sub', rings: ['main'], audiences: ['*'] },
        ],
      }),
    );
  });
  afterAll(async () => {
    for (const created of sources) created.close();
    await gateway?.close();
    await issuer?.close();
  });

  it('caches a token per (audience, subject, claims) and makes one request for many concurrent callers', async () => {
    const tokens = source({ url: gateway.url, apiKey: APP_KEY });
    const many = await Promise.all(Array.from({ length: 10 }, () => tokens.getToken({ audience: 'urn:sdk:a', claims: { a: 1, b: 2 } })));
    expect(new Set(many).size).toBe(1);
    expect(await tokens.getToken({ audience: 'urn:sdk:a', claims: { b: 2, a: 1 } })).toBe(many[0]); // key order does not matter
    expect(issuedFor('urn:sdk:a')).toBe(1);
    const other = await tokens.getToken({ audience: 'urn:sdk:a', claims: { a: 2 } });
    expect(other).not.toBe(many[0]);
    expect(issuedFor('urn:sdk:a')).toBe(2);
  });

  it('refreshes once the configured fraction of the lifetime has passed', async () => {
    const tokens = source({ url: gateway.url, apiKey: APP_KEY, refreshAt: 0.25 });
    const first = await tokens.getToken({ audience: 'urn:sdk:refresh', ttlSeconds: 4 });
    expect(await tokens.getToken({ audience: 'urn:sdk:refresh', ttlSeconds: 4 })).toBe(first);
    await new Promise((resolve) => setTimeout(resolve, 1100));
    const second = await tokens.getToken({ audience: 'urn:sdk:refresh', ttlSeconds: 4 });
    expect(second).not.toBe(first);
    expect(issuedFor('urn:sdk:refresh')).toBe(2);
  });

  it('retries a 429 after Retry-After (plus jitter), then succeeds', async () => {
    const tokens = source({ url: gateway.url, apiKey: SLOW_KEY });
    await tokens.getToken({ audience: 'urn:sdk:slow-1' });
    const started = Date.now();
    await tokens.getToken({ audience: 'urn:sdk:slow-2' }); // the bucket is empty: 429, Retry-After: 1
    const waited = Date.now() - started;
    expect(waited).toBeGreaterThanOrEqual(1000);
    expect(waited).toBeLessThan(2500);
  });

  it('retries a 503 from a backend fault after its Retry-After, then succeeds', async () => {
    const dataDir = tempDir();
    const local = new LocalBackend({ dataDir });
    let failures = 0;
    const flaky: SigningBackend = Object.assign(Object.create(local) as SigningBackend, {
      sign: async (...args: Parameters<SigningBackend['sign']>) => {
        if (failures > 0) {
          failures--;
          throw new BackendUnavailableError('Transit sign: connection refused', { retryAfterSeconds: 1 });
        }
        return local.sign(...args);
      },
    });
    const own = await startGateway(
      configFrom({
        backends: { dev: { type: 'local', data_dir: dataDir } },
        rings: [{ name: 'main', backend: 'dev', key: 'signet-main', alg: 'ES256', create_if_missing: true }],
        clients: [{ name: 'app', api_key_sha256: sha256Hex(APP_KEY), rings: ['main'], audiences: ['*'] }],
      }),
      { backends: new Map([['dev', flaky]]) },
    );
    try {
      failures = 1; // once started (the canary signed): the next sign fails as an unreachable backend does
      const started = Date.now();
      const token = await source({ url: own.url, apiKey: APP_KEY }).getToken({ audience: 'urn:sdk:after-503' });
      expect(decodeJwt(token).aud).toBe('urn:sdk:after-503');
      expect(failures).toBe(0);
      const waited = Date.now() - started;
      expect(waited).toBeGreaterThanOrEqual(1000); // it waited for Retry-After: 1
      expect(waited).toBeLessThan(2500);
    } finally {
      await own.close();
    }
  });

  it('keeps the cached token when a refresh fails, and reports errors with Signet\'s code', async () => {
    const own = await startGateway(
      configFrom({
        backends: { dev: { type: 'local', data_dir: tempDir() } },
        rings: [{ name: 'main', backend: 'dev', alg: 'ES256', create_if_missing: true }],
        clients: [{ name: 'app', api_key_sha256: sha256Hex(APP_KEY), rings: ['main'], audiences: ['*'] }],
      }),
    );
    const tokens = source({ url: own.url, apiKey: APP_KEY, refreshAt: 0.01, maxRetries: 0 });
    const cached = await tokens.getToken({ audience: 'urn:sdk:stale', ttlSeconds: 60 });
    await own.close();
    await new Promise((resolve) => setTimeout(resolve, 700)); // past 1% of 60 s: a refresh is due, and fails
    expect(await tokens.getToken({ audience: 'urn:sdk:stale', ttlSeconds: 60 })).toBe(cached);
    await expect(tokens.getToken({ audience: 'urn:sdk:other' })).rejects.toMatchObject({ code: 'ERR_NETWORK' });
    const error = await source({ url: gateway.url, apiKey: 'sgt_unknown-key' }).getToken({ audience: 'x' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SignetClientError);
    expect(error).toMatchObject({ status: 401, code: 'ERR_UNAUTHENTICATED' });
  });

  it('authenticates with a workload token file and reads it again when it rotates', async () => {
    const file = join(tempDir(), 'token');
    writeFileSync(file, await issuer.mint({ namespace: 'orders', serviceAccount: 'api' }));
    const tokens = source({ url: gateway.url, tokenFile: file });
    expect(decodeJwt(await tokens.getToken({ audience: 'urn:sdk:wl-1' })).sub).toBe('system:serviceaccount:orders:api');
    writeFileSync(file, await issuer.mint({ namespace: 'orders', serviceAccount: 'worker' })); // kubelet rotates the projected token
    expect(decodeJwt(await tokens.getToken({ audience: 'urn:sdk:wl-2' })).sub).toBe('system:serviceaccount:orders:worker');
  });

  it('is exported as `signet/client` by the package (built, then imported by name from another process)', async () => {
    const pkg = tempDir('signet-pkg-');
    copyFileSync(join(ROOT, 'package.json'), join(pkg, 'package.json'));
    writeFileSync(join(pkg, 'tsconfig.json'), JSON.stringify({ extends: join(ROOT, 'tsconfig.build.json'), compilerOptions: { rootDir: join(ROOT, 'src'), outDir: join(pkg, 'dist'), sourceMap: false, typeRoots: [join(ROOT, 'node_modules', '@types')] }, include: [join(ROOT, 'src', 'client')] }));
    await run(join(ROOT, 'node_modules', '.bin', 'tsc'), ['-p', join(pkg, 'tsconfig.json')]);
    expect(existsSync(join(pkg, 'dist', 'client', 'index.d.ts'))).toBe(true);
    writeFileSync(
      join(pkg, 'probe.mjs'),
      "import { createTokenSource } from 'signet/client';\nconst source = createTokenSource({ url: process.argv[2], apiKey: process.argv[3] });\nprocess.stdout.write(await source.getToken({ audience: 'urn:sdk:package' }));\nsource.close();\n",
    );
    const { stdout } = await run(process.execPath, [join(pkg, 'probe.mjs'), gateway.url, APP_KEY], { cwd: pkg });
    expect(decodeJwt(stdout)).toMatchObject({ sub: 'app', aud: 'urn:sdk:package' });
  });
});
