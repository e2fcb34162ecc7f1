// Every config error names the field or the environment variable it came from, and the fix;
// checks that need the outside world (TLS files, state_dir, the alg each backend can sign) run at
// start-up, before any backend is called.
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { buildApp } from '../src/app.js';
import { loadConfig } from '../src/config/load.js';
import { ConfigError } from '../src/errors.js';
import { configFrom, openClient, tempDir, TEST_API_KEY } from './helpers/gateway.js';

const base = () => ({
  backends: { dev: { type: 'local', data_dir: tempDir() } },
  rings: [{ name: 'main', backend: 'dev', alg: 'ES256' }],
  clients: [openClient()],
});

function failure(load: () => unknown): ConfigError {
  try {
    load();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error('expected a ConfigError');
}

function yamlFile(text: string): string {
  const file = join(tempDir(), 'signet.yaml');
  writeFileSync(file, text);
  return file;
}

function pemPair(): { cert: string; key: string } {
  const dir = tempDir();
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-subj', '/CN=signet.test', '-days', '1', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { stdio: 'ignore' });
  return { cert: join(dir, 'cert.pem'), key: join(dir, 'key.pem') };
}

describe('configuration errors name the field and the fix', () => {
  it.each([
    ['SIGNET_LOG_LEVEL=bogus', {}, { SIGNET_LOG_LEVEL: 'bogus' }, 'SIGNET_LOG_LEVEL', /must be one of fatal, error, warn, info, debug, trace, silent/],
    ['server.log_level: bogus', { server: { log_level: 'bogus' } }, {}, 'server.log_level', /must be one of/],
    ['a redis_url without a scheme', { redis_url: '127.0.0.1:6379' }, {}, 'redis_url', /redis:\/\/ or rediss:\/\//],
    ['a redis_url with another scheme', { redis_url: 'http://127.0.0.1:6379' }, {}, 'redis_url', /redis:\/\/ or rediss:\/\//],
    ['SIGNET_REDIS_URL that is not a URL', {}, { SIGNET_REDIS_URL: 'not a url' }, 'SIGNET_REDIS_URL', /redis:\/\//],
    ['SIGNET_HOST with a space', {}, { SIGNET_HOST: 'bad host' }, 'SIGNET_HOST', /IP address or a host name/],
    ['server.host with a slash', { server: { host: 'example.com/x' } }, {}, 'server.host', /IP address or a host name/],
    ['an ES256K ring on vault-transit', { backends: { v: { type: 'vault-transit', address: 'http://127.0.0.1:1', token: 't' } }, rings: [{ name: 'ok', backend: 'v', alg: 'ES256' }, { name: 'k1', backend: 'v', alg: 'ES256K' }] }, {}, 'rings[1].alg', /ES256K cannot be signed by backend "v" \(vault-transit\)\. Use a local or aws-kms backend/],
    ['an issuer with a newline (a URL parser would drop it; the token would carry it)', { rings: [{ name: 'main', backend: 'dev', alg: 'ES256', issuer: 'https://issuer.example\n.com' }] }, {}, 'rings[0].issuer', /control character/],
    ['a client name with a control character (signed as the default subject)', { clients: [{ ...openClient(), name: 'svc\u0000admin' }] }, {}, 'clients[0].name', /control character/],
    ['a claim_limits depth of 0', { claim_limits: { max_depth: 0 } }, {}, 'claim_limits.max_depth', /integer from 1 to 32/],
    ['an unknown claim_limits field', { claim_limits: { depth: 3 } }, {}, 'claim_limits.depth', /unknown field/],
  ])('%s', (_name, raw, env, field, message) => {
    const error = failure(() => configFrom({ ...base(), ...raw }, env as Record<string, string>));
    expect(error.field).toBe(field);
    expect(error.message).toMatch(message);
  });

  it('an unwritable state_dir stops start-up, not the first revocation', () => {
    const blocker = join(tempDir(), 'a-file');
    writeFileSync(blocker, '');
    const error = failure(() => configFrom({ ...base(), state_dir: join(blocker, 'state') }));
    expect(error.field).toBe('state_dir');
    expect(error.message).toMatch(/is not writable \(ENOTDIR\).*point state_dir at a writable directory/);
    expect(failure(() => configFrom(base(), { SIGNET_STATE_DIR: join(blocker, 'state') })).field).toBe('SIGNET_STATE_DIR');
  });

  it('TLS files must hold a certificate and its own key', () => {
    const { cert, key } = pemPair();
    const other = pemPair();
    const garbage = join(tempDir(), 'garbage.pem');
    writeFileSync(garbage, '-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n');
    expect(() => configFrom({ ...base(), server: { tls: { cert_file: cert, key_file: key } } })).not.toThrow();
    const badCert = failure(() => configFrom({ ...base(), server: { tls: { cert_file: garbage, key_file: key } } }));
    expect([badCert.field, badCert.message]).toEqual(['server.tls.cert_file', expect.stringMatching(/does not hold a PEM certificate/)]);
    const badKey = failure(() => configFrom({ ...base(), server: { tls: { cert_file: cert, key_file: garbage } } }));
    expect([badKey.field, badKey.message]).toEqual(['server.tls.key_file', expect.stringMatching(/does not hold a PEM private key/)]);
    const mismatched = failure(() => configFrom({ ...base(), server: { tls: { cert_file: cert, key_file: other.key } } }));
    expect([mismatched.field, mismatched.message]).toEqual(['server.tls.key_file', expect.stringMatching(/is not the private key of the certificate/)]);
  });

  it('a YAML custom tag is an error, not a warning', () => {
    for (const tag of ['!foo bar', '!!python/object:os.system x', '!!binary aGk=']) {
      const file = yamlFile(`backends:\n  dev:\n    type: local\n    data_dir: ${tempDir()}\nrings:\n  - name: main\n    backend: dev\n    alg: ES256\n    issuer: ${tag}\n`);
      const error = failure(() => loadConfig({ SIGNET_CONFIG: file, SIGNET_STATE_DIR: tempDir() }));
      expect(error.field).toBe('SIGNET_CONFIG');
      expect(error.message).toMatch(/line 9: a YAML tag Signet does not accept/);
    }
  });

  it('${VAR} works inside a YAML flow map, and a value can never add YAML structure', () => {
    const file = yamlFile(
      'backends:\n  vault:\n    type: vault-transit\n    address: ${VAULT_ADDR}\n    approle: { role_id: ${ROLE_ID}, secret_id: ${SECRET_ID} }\nrings:\n  - { name: main, backend: vault, alg: ES256 }\n',
    );
    const config = loadConfig({ SIGNET_CONFIG: file, SIGNET_STATE_DIR: tempDir(), VAULT_ADDR: 'http://127.0.0.1:8200', ROLE_ID: 'role-1', SECRET_ID: 'x, mount: evil }\nrings: []' });
    expect(config.backends.get('vault')).toMatchObject({ approle: { roleId: 'role-1', secretId: 'x, mount: evil }\nrings: []', mount: 'approle' } });
    expect(config.rings.size).toBe(1);
    const missing = failure(() => loadConfig({ SIGNET_CONFIG: file, SIGNET_STATE_DIR: tempDir(), VAULT_ADDR: 'http://127.0.0.1:8200', ROLE_ID: 'r' }));
    expect(missing.field).toBe('backends.vault.approle.secret_id');
  });

  it('a broken local key file names the file and the way out', async () => {
    const dataDir = tempDir();
    mkdirSync(dataDir, { recursive: true });
    writeFileSync(join(dataDir, 'main.json'), '{"alg":"ES256","versions":[{"version":1,"createdAt":"2026-01-01T00:00:00Z","privateKeyPem":"garbage"}]}');
    const app = await buildApp(configFrom({ ...base(), backends: { dev: { type: 'local', data_dir: dataDir } } }), { logger: pino({ level: 'silent' }), scheduling: false });
    const started = app.ready();
    await expect(started).rejects.toMatchObject({ code: 'ERR_BACKEND_RESPONSE', message: expect.stringContaining(`local key file ${join(dataDir, 'main.json')} cannot be read`) });
    await expect(started).rejects.toThrow(/restore it from a backup, or move it away/);
    await app.close();
  });

  it('claim_limits from the config are the limits the API applies', async () => {
    const config = configFrom({ ...base(), rings: [{ name: 'main', backend: 'dev', alg: 'ES256', create_if_missing: true }], claim_limits: { max_depth: 2, max_members: 3, max_bytes: 100 } });
    expect(config.claimLimits).toEqual({ maxDepth: 2, maxMembers: 3, maxBytes: 100 });
    const app = await buildApp(config, { logger: pino({ level: 'silent' }), scheduling: false });
    await app.ready();
    const issue = async (claims: unknown) =>
      (await app.inject({ method: 'POST', url: '/v1/tokens', headers: { authorization: `Bearer ${TEST_API_KEY}`, 'content-type': 'application/json' }, payload: { audience: 'a', claims } })).statusCode;
    expect(await issue({ a: { b: 1 } })).toBe(200);
    expect(await issue({ a: { b: { c: 1 } } })).toBe(400);
    expect(await issue({ a: 1, b: 2, c: 3 })).toBe(200);
    expect(await issue({ a: 1, b: 2, c: 3, d: 4 })).toBe(400);
    expect(await issue({ a: 'x'.repeat(100) })).toBe(400);
    await app.close();
  });

  it('dev mode refuses a non-loopback address unless told it is meant', () => {
    const env = { SIGNET_STATE_DIR: tempDir(), SIGNET_DATA_DIR: tempDir() };
    const error = failure(() => loadConfig({ ...env, SIGNET_HOST: '0.0.0.0' }));
    expect(error.field).toBe('SIGNET_HOST');
    expect(error.message).toMatch(/wildcard dev client .* admin API .* SIGNET_DEV_ALLOW_REMOTE=true/);
    expect(loadConfig({ ...env, SIGNET_HOST: '0.0.0.0', SIGNET_DEV_ALLOW_REMOTE: 'true' }).server.host).toBe('0.0.0.0');
    for (const host of ['127.0.0.1', '127.0.0.2', '::1', 'localhost']) expect(loadConfig({ ...env, SIGNET_HOST: host }).server.host).toBe(host);
  });
});
