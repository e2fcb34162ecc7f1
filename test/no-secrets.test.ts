// Private key material and credentials never reach a response, a log line or an error: drive the
// whole surface (tokens, JWKS, admin, rotation, revocation, failures) with trace logging on and
// search everything that came out for the keys that exist on disk and the keys callers sent.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { sha256Hex } from '../src/config/load.js';
import { adminRequest, configFrom, openClient, requestToken, startGateway, tempDir, TEST_ADMIN_KEY, TEST_API_KEY } from './helpers/gateway.js';

describe('no secrets in responses, logs or errors', () => {
  it('never emits private key material or API keys', async () => {
    let logged = '';
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        logged += chunk.toString();
        done();
      },
    });
    const dataDir = tempDir();
    const gateway = await startGateway(
      configFrom({
        server: { access_log: true }, // its lines are searched too
        backends: { dev: { type: 'local', data_dir: dataDir } },
        rings: [
          { name: 'ec', backend: 'dev', alg: 'ES256', create_if_missing: true },
          { name: 'rsa', backend: 'dev', alg: 'PS256', create_if_missing: true },
          { name: 'ed', backend: 'dev', alg: 'EdDSA', create_if_missing: true },
        ],
        clients: [openClient()],
        admin: { api_key_sha256: [sha256Hex(TEST_ADMIN_KEY)] },
      }),
      { logger: pino({ level: 'trace' }, sink) },
    );
    const responses: string[] = [];
    const admin = async (method: string, path: string, body?: unknown) => {
      responses.push(await (await adminRequest(gateway.url, method, path, body)).text());
    };
    try {
      for (const key of ['ec', 'rsa', 'ed']) responses.push(JSON.stringify((await requestToken(gateway.url, { audience: 'x', key })).body));
      responses.push(JSON.stringify((await requestToken(gateway.url, { audience: 'x', claims: { iss: 'evil' } })).body));
      responses.push(JSON.stringify((await requestToken(gateway.url, '{not json')).body));
      responses.push(JSON.stringify((await requestToken(gateway.url, { audience: 'x' }, 'sgt_wrong-key-that-must-not-be-logged')).body));
      for (const path of ['/.well-known/jwks.json', '/rings/rsa/.well-known/jwks.json', '/.well-known/openid-configuration', '/readyz', '/metrics']) {
        responses.push(await (await fetch(`${gateway.url}${path}`)).text());
      }
      await admin('GET', '/rings');
      await admin('POST', '/rings/ec/rotate');
      await admin('POST', '/rings/ed/versions/1/revoke', { reason: 'test' });
      await admin('GET', '/rings/ed');
    } finally {
      await gateway.close();
    }

    // Every private key that exists, in every form it could leak in.
    const secrets: string[] = [TEST_API_KEY, TEST_ADMIN_KEY, 'sgt_wrong-key-that-must-not-be-logged'];
    for (const file of readdirSync(dataDir).filter((name) => name.endsWith('.json'))) {
      const stored = JSON.parse(readFileSync(join(dataDir, file), 'utf8')) as { versions: Array<{ privateKeyPem: string }> };
      for (const { privateKeyPem } of stored.versions) {
        const { createPrivateKey } = await import('node:crypto');
        const jwk = createPrivateKey(privateKeyPem).export({ format: 'jwk' });
        secrets.push(privateKeyPem.split('\n')[1]!, jwk.d!);
        if (jwk.p) secrets.push(jwk.p, jwk.q!);
      }
    }
    expect(secrets.length).toBeGreaterThan(10);
    const audit = readFileSync(gateway.auditFile, 'utf8');
    const everything = `${logged}\n${audit}\n${responses.join('\n')}`;
    expect(logged).toMatch(/key version revoked/); // the log really was captured
    expect(logged).toMatch(/"route":"\/v1\/tokens".*"msg":"request"/); // with the access log
    expect(audit).toMatch(/"audit":"token.issued"/); // and the audit trail
    for (const secret of secrets) expect(everything).not.toContain(secret);
    expect(everything).not.toMatch(/PRIVATE KEY/);
    expect(everything).not.toMatch(/"(d|p|q|dp|dq|qi)":/);
  });
});
