// The audit trail: one record per issued token that ties it to its caller, one per admin action
// naming the admin, each written before the answer leaves. A token whose record cannot be
// written is not handed out, and a SIGKILL under load loses no record of a returned token.
import { spawn } from 'node:child_process';
import { openSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { decodeJwt } from 'jose';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { sha256Hex } from '../src/config/load.js';
import { LineSink } from '../src/observability/line-sink.js';
import { OPENBAO_ROOT_TOKEN, vaultRequest } from './harness/openbao.js';
import { freePort } from './harness/tools.js';
import { adminRequest, auditRecords, configFrom, openClient, requestToken, startGateway, tempDir, TEST_ADMIN_KEY, TEST_API_KEY, type RunningGateway } from './helpers/gateway.js';
import { sleep } from './helpers/replicas.js';

const open: RunningGateway[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((gateway) => gateway.close()));
});

const localConfig = (extra: Record<string, unknown> = {}) =>
  configFrom({
    backends: { dev: { type: 'local', data_dir: tempDir() } },
    rings: [{ name: 'main', backend: 'dev', alg: 'ES256', create_if_missing: true }],
    clients: [{ ...openClient(), name: 'orders' }],
    admin: { keys: [{ name: 'alice', api_key_sha256: sha256Hex(TEST_ADMIN_KEY) }] },
    ...extra,
  });

describe('audit records', () => {
  it('tie each token to its record (jti, times, subject, audience, ring, kid, client, address, request id) and name the admin of each action', async () => {
    const gateway = await startGateway(localConfig());
    open.push(gateway);
    const response = await fetch(`${gateway.url}/v1/tokens`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TEST_API_KEY}`, 'content-type': 'application/json', 'x-request-id': 'ignored-here' },
      body: JSON.stringify({ audience: ['https://a.test', 'https://b.test'], subject: 'user-7', claims: { scope: 'read' } }),
    });
    const { token, kid } = (await response.json()) as { token: string; kid: string };
    const claims = decodeJwt(token);
    const [record] = auditRecords(gateway);
    expect(record).toMatchObject({
      audit: 'token.issued',
      jti: claims.jti,
      iat: claims.iat,
      exp: claims.exp,
      sub: 'user-7',
      aud: ['https://a.test', 'https://b.test'],
      ring: 'main',
      kid,
      client: 'orders',
      client_address: '127.0.0.1',
      request_id: expect.any(String),
    });
    expect(JSON.stringify(record)).not.toContain(token.split('.')[2]!); // the signature, let alone the token, is not in it

    await adminRequest(gateway.url, 'POST', '/rings/main/rotate');
    await adminRequest(gateway.url, 'POST', '/rings/main/versions/1/revoke', { reason: 'exposed in a log' });
    const admin = auditRecords(gateway).filter((entry) => String(entry.audit).startsWith('admin.'));
    expect(admin).toEqual([
      expect.objectContaining({ audit: 'admin.rotate', admin: 'alice', ring: 'main', version: 2, client_address: '127.0.0.1' }),
      expect.objectContaining({ audit: 'admin.revoke', admin: 'alice', ring: 'main', version: 1, reason: 'exposed in a log', replacement: 2 }),
    ]);
  });

  it('a token whose record cannot be written is not handed out: 503 ERR_AUDIT_UNAVAILABLE', async () => {
    const file = join(tempDir(), 'audit.jsonl');
    writeFileSync(file, '');
    const readOnly = new LineSink(openSync(file, 'r')); // every write fails with EBADF
    const gateway = await startGateway(localConfig(), { auditSink: readOnly });
    open.push(gateway);
    const response = await requestToken(gateway.url, { audience: 'https://api.test' });
    expect(response.status).toBe(503);
    expect(response.body.error.code).toBe('ERR_AUDIT_UNAVAILABLE');
    expect(response.headers.get('retry-after')).not.toBeNull();
    expect(JSON.stringify(response.body)).not.toMatch(/eyJ/);
    expect(await (await fetch(`${gateway.url}/metrics`)).text()).toMatch(/signet_audit_write_failures_total [1-9]/);
  });
});

describe('SIGKILL under load', () => {
  it('loses no record of a token that was returned (real OpenBao, batched signing)', async () => {
    const url = inject('openbaoUrl');
    const key = `signet-audit-${Date.now().toString(36)}`;
    await vaultRequest(url, 'POST', `transit/keys/${key}`, { type: 'ecdsa-p256' });
    const dir = tempDir();
    const auditFile = join(dir, 'audit.jsonl');
    const port = await freePort();
    const configFile = join(dir, 'signet.json');
    writeFileSync(
      configFile,
      JSON.stringify({
        server: { port, log_level: 'warn' },
        state_dir: join(dir, 'state'),
        audit: { file: auditFile },
        backends: { vault: { type: 'vault-transit', address: url, token: OPENBAO_ROOT_TOKEN } },
        rings: [{ name: 'main', backend: 'vault', key, alg: 'ES256' }],
        clients: [openClient()],
      }),
    );
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'serve'], { env: { ...process.env, SIGNET_CONFIG: configFile }, stdio: 'ignore' });
    const base = `http://127.0.0.1:${port}`;
    const deadline = Date.now() + 20_000;
    while (!(await fetch(`${base}/readyz`).then((r) => r.ok, () => false))) {
      if (Date.now() > deadline) throw new Error('gateway did not start');
      await sleep(100);
    }

    // 32 callers, paced to about 300 tokens a second in all, then SIGKILL mid-stream.
    const returned: string[] = [];
    let stop = false;
    const caller = async (): Promise<void> => {
      while (!stop) {
        const started = Date.now();
        try {
          const response = await fetch(`${base}/v1/tokens`, { method: 'POST', headers: { authorization: `Bearer ${TEST_API_KEY}`, 'content-type': 'application/json' }, body: '{"audience":"https://api.test"}' });
          const body = (await response.json()) as { token?: string };
          if (response.status === 200 && body.token) returned.push(decodeJwt(body.token).jti as string);
        } catch {
          return; // the connection died with the process: that token was not returned
        }
        await sleep(Math.max(0, 32 * (1000 / 300) - (Date.now() - started)));
      }
    };
    const callers = Promise.all(Array.from({ length: 32 }, caller));
    await sleep(2500);
    child.kill('SIGKILL');
    await new Promise((resolve) => child.once('exit', resolve));
    stop = true;
    await callers;

    const recorded = new Set(
      readFileSync(auditFile, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line) as { jti?: string })
        .map((record) => record.jti),
    );
    const missing = returned.filter((jti) => !recorded.has(jti));
    console.info(`SIGKILL at ~300 tokens/s: ${returned.length} tokens returned, ${recorded.size} audit records, ${missing.length} returned tokens without a record`);
    expect(returned.length).toBeGreaterThan(300);
    expect(missing).toEqual([]);
  }, 40_000);
});
