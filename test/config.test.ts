// A wrong config stops start-up with a message naming the field and the fix, never a stack trace.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config/load.js';
import { signet } from './helpers/cli.js';
import { configFailure, configFrom, openClient, tempDir } from './helpers/gateway.js';

const base = () => ({
  backends: { dev: { type: 'local', data_dir: '/tmp/x' } },
  rings: [{ name: 'main', backend: 'dev', alg: 'ES256' }],
  clients: [openClient()],
});


describe('configuration', () => {
  it('has safe defaults that satisfy the rotation invariants', () => {
    const config = configFrom(base());
    const ring = config.rings.get('main')!;
    expect(config.jwks.maxAgeMs).toBe(300_000);
    expect(ring.prepublishMs).toBeGreaterThanOrEqual(config.jwks.maxAgeMs + config.jwks.staleWhileRevalidateMs);
    expect(ring.graceMs).toBeGreaterThanOrEqual(ring.maxTokenTtlMs + config.jwks.maxAgeMs);
    expect(ring.rotationPeriodMs).toBeGreaterThan(ring.prepublishMs);
    expect(ring.issuer).toBe('http://127.0.0.1:8080');
  });

  it.each([
    ['an unknown top-level field', { ...base(), sever: {} }, 'sever', /unknown field/],
    ['an unknown backend type', { ...base(), backends: { dev: { type: 'hsm' } } }, 'backends.dev.type', /one of local, vault-transit, aws-kms/],
    ['a ring naming a missing backend', { ...base(), rings: [{ name: 'main', backend: 'nope', alg: 'ES256' }] }, 'rings[0].backend', /no backend named "nope"/],
    ['an unsupported alg', { ...base(), rings: [{ name: 'main', backend: 'dev', alg: 'none' }] }, 'rings[0].alg', /must be one of ES256/],
    ['a Vault backend without credentials', { ...base(), backends: { v: { type: 'vault-transit', address: 'http://127.0.0.1:8200' } }, rings: [{ name: 'main', backend: 'v', alg: 'ES256' }] }, 'backends.v', /needs credentials/],
    ['a Vault address that is not a URL', { ...base(), backends: { v: { type: 'vault-transit', address: 'vault:8200', token: 't' } }, rings: [{ name: 'main', backend: 'v', alg: 'ES256' }] }, 'backends.v.address', /http\(s\) URL/],
    ['a client key that is not a SHA-256', { ...base(), clients: [{ ...openClient(), api_key_sha256: 'plaintext-key' }] }, 'clients[0].api_key_sha256', /signet client-key/],
    ['a client naming a missing ring', { ...base(), clients: [{ ...openClient(), rings: ['ghost'] }] }, 'clients[0].rings[0]', /no ring named "ghost"/],
    ['two clients sharing a key', { ...base(), clients: [openClient(), { ...openClient(), name: 'b' }] }, 'clients[1].api_key_sha256', /share one API key/],
    ['a port out of range', { ...base(), server: { port: 70000 } }, 'server.port', /0 to 65535/],
    ['prepublish shorter than the JWKS cache lifetime', { ...base(), rings: [{ name: 'main', backend: 'dev', alg: 'ES256', prepublish_seconds: 100 }] }, 'rings[0].prepublish_seconds', /prepublish_seconds ≥ 370/],
    ['grace shorter than max TTL + max-age', { ...base(), rings: [{ name: 'main', backend: 'dev', alg: 'ES256', grace_seconds: 3000 }] }, 'rings[0].grace_seconds', /grace_seconds ≥ 3900/],
    ['a rotation period not longer than prepublish', { ...base(), rings: [{ name: 'main', backend: 'dev', alg: 'ES256', rotation_period_seconds: 400 }] }, 'rings[0].rotation_period_seconds', /longer than prepublish_seconds/],
    ['a duplicate ring', { ...base(), rings: [{ name: 'main', backend: 'dev', alg: 'ES256' }, { name: 'main', backend: 'dev', alg: 'ES384' }] }, 'rings[1].name', /defined twice/],
    ['no rings', { ...base(), rings: [] }, 'rings', /at least one ring/],
  ])('rejects %s, naming the field', (_name, raw, field, message) => {
    const error = configFailure(raw as Record<string, unknown>);
    expect(error.field).toBe(field);
    expect(error.message).toMatch(message);
  });

  it('interpolates ${ENV} and names a missing variable', () => {
    const raw = { ...base(), backends: { v: { type: 'vault-transit', address: 'http://127.0.0.1:8200', token: '${VAULT_TOKEN}' } }, rings: [{ name: 'main', backend: 'v', alg: 'ES256' }] };
    const backend = configFrom(raw, { VAULT_TOKEN: 's.secret' }).backends.get('v');
    expect(backend).toMatchObject({ token: 's.secret' });
    const error = configFailure(raw);
    expect(error.field).toBe('backends.v.token');
    expect(error.message).toMatch(/\$\{VAULT_TOKEN\}/);
  });

  it('refuses the local backend under NODE_ENV=production unless allowed', () => {
    expect(configFailure(base(), { NODE_ENV: 'production' }).field).toBe('backends.dev.allow_in_production');
    expect(() => configFrom({ ...base(), backends: { dev: { type: 'local', data_dir: '/tmp/x', allow_in_production: true } } }, { NODE_ENV: 'production' })).not.toThrow();
  });

  it('applies SIGNET_* overrides', () => {
    const config = configFrom(base(), { SIGNET_PORT: '9999', SIGNET_HOST: '0.0.0.0', SIGNET_JWKS_MAX_AGE_SECONDS: '60', SIGNET_PUBLIC_URL: 'https://keys.example.com/' });
    expect(config.server).toMatchObject({ port: 9999, host: '0.0.0.0', publicUrl: 'https://keys.example.com' });
    expect(config.jwks.maxAgeMs).toBe(60_000);
  });

  it('dev mode: no SIGNET_CONFIG gives the local backend, one ES256 ring and a dev client', () => {
    const config = loadConfig({ SIGNET_DEV_API_KEY: 'sgt_fixed-dev-key' });
    expect([...config.backends.values()].map((b) => b.type)).toEqual(['local']);
    expect([...config.rings.values()].map((r) => [r.name, r.alg, r.issuer])).toEqual([['default', 'ES256', 'http://127.0.0.1:8080']]);
    expect(config.devApiKey).toEqual({ value: 'sgt_fixed-dev-key', generated: false });
    expect(loadConfig({}).devApiKey?.generated).toBe(true);
  });

  it('the shipped example config (also used by docker-compose.yml) is valid', () => {
    const config = loadConfig({
      SIGNET_CONFIG: 'examples/vault.yaml',
      SIGNET_PUBLIC_URL: 'http://localhost:8080',
      VAULT_ADDR: 'http://vault:8200',
      VAULT_TOKEN: 'root',
      ORDERS_API_KEY_SHA256: 'b4105d6f20361f924e877466d6d1253b086bc1c4ac5b3c451084f92fa72d16cc',
    });
    expect(config.rings.get('default')).toMatchObject({ alg: 'ES256', key: 'signet-default', issuer: 'http://localhost:8080' });
    expect(config.clients.map((c) => c.name)).toEqual(['orders']);
  });

  it('signet doctor reports each check and exits 1 on a failure', async () => {
    const file = join(tempDir(), 'doctor.json');
    const dataDir = tempDir();
    const ok = { backends: { dev: { type: 'local', data_dir: dataDir } }, rings: [{ name: 'main', backend: 'dev', alg: 'ES256', create_if_missing: true }], state_dir: tempDir() };
    writeFileSync(file, JSON.stringify(ok));
    const healthy = await signet(['doctor'], { SIGNET_CONFIG: file });
    expect(healthy.code).toBe(0);
    expect(healthy.stdout).toMatch(/^ok {4}ring main: v1 signs \(kid [A-Za-z0-9_-]{43}\)/m);
    expect(healthy.stdout).toMatch(/^warn {2}ring main: .*EXPORTABLE software keys/m);
    writeFileSync(file, JSON.stringify({ ...ok, rings: [...ok.rings, { name: 'ghost', backend: 'dev', alg: 'ES256' }] }));
    const broken = await signet(['doctor'], { SIGNET_CONFIG: file });
    expect(broken.code).toBe(1);
    expect(broken.stdout).toMatch(/^FAIL {2}ring ghost: not loaded/m);
    expect(broken.stderr).toMatch(/^signet: [1-9] check\(s\) failed\n$/);
  });

  it('the CLI prints the field and the fix, exit code 3, no stack trace', async () => {
    const file = join(tempDir(), 'bad.yaml');
    writeFileSync(file, 'rings:\n  - name: main\n    backend: dev\n    alg: HS256\nbackends:\n  dev:\n    type: local\n');
    const result = await signet(['serve'], { SIGNET_CONFIG: file });
    expect(result.code).toBe(3);
    expect(result.stderr).toMatch(/^signet: configuration error: rings\[0\]\.alg: must be one of ES256/);
    expect(result.stderr).not.toMatch(/\n\s+at /);
  });
});
