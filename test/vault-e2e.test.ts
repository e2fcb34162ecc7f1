// End to end through a real OpenBao: every alg signs through Transit, and the token verifies with
// jose's createRemoteJWKSet against the JWKS the gateway serves over HTTP. Also AppRole login with
// the shipped least-privilege policy, and what that policy refuses.
import { randomBytes } from 'node:crypto';
import { calculateJwkThumbprint, decodeProtectedHeader, type JWK } from 'jose';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { JwsAlg } from '../src/jose/algorithms.js';
import { vaultPolicy } from '../src/vault/policy.js';
import { OPENBAO_ROOT_TOKEN, vaultRequest } from './harness/openbao.js';
import { configFrom, openClient, requestToken, startGateway, type RunningGateway } from './helpers/gateway.js';
import { remoteVerifier } from './helpers/verify.js';

const KEY_TYPES: Record<string, string> = {
  ES256: 'ecdsa-p256',
  ES384: 'ecdsa-p384',
  ES512: 'ecdsa-p521',
  RS256: 'rsa-2048',
  RS384: 'rsa-3072',
  RS512: 'rsa-4096',
  PS256: 'rsa-2048',
  PS384: 'rsa-3072',
  PS512: 'rsa-4096',
  EdDSA: 'ed25519',
};
const ALGS = Object.keys(KEY_TYPES) as JwsAlg[];

describe('Vault/OpenBao Transit end to end', () => {
  const url = inject('openbaoUrl');
  const suffix = randomBytes(4).toString('hex');
  const key = (alg: string): string => `signet-e2e-${suffix}-${alg.toLowerCase()}`;
  let gateway: RunningGateway;

  beforeAll(async () => {
    for (const alg of ALGS) await vaultRequest(url, 'POST', `transit/keys/${key(alg)}`, { type: KEY_TYPES[alg] });
    gateway = await startGateway(
      configFrom({
        backends: { vault: { type: 'vault-transit', address: url, token: OPENBAO_ROOT_TOKEN } },
        rings: ALGS.map((alg) => ({ name: alg.toLowerCase(), backend: 'vault', key: key(alg), alg, issuer: 'https://signet.test' })),
        clients: [openClient()],
      }),
    );
  });
  afterAll(async () => gateway?.close());

  it.each(ALGS)('%s: a token issued through Transit verifies via createRemoteJWKSet, kid = RFC 7638 thumbprint', async (alg) => {
    const { status, body } = await requestToken(gateway.url, { audience: 'https://api.test', subject: 'svc-a', key: alg.toLowerCase() });
    expect(status).toBe(200);
    const verified = await remoteVerifier(`${gateway.url}/.well-known/jwks.json`, alg).jwtVerify(body.token, { issuer: 'https://signet.test', audience: 'https://api.test' });
    expect(verified.payload.sub).toBe('svc-a');
    expect(verified.protectedHeader.alg).toBe(alg);
    const jwks = (await (await fetch(`${gateway.url}/.well-known/jwks.json`)).json()) as { keys: JWK[] };
    const published = jwks.keys.find((k) => k.kid === decodeProtectedHeader(body.token).kid)!;
    expect(published.alg).toBe(alg);
    expect(await calculateJwkThumbprint(published, 'sha256')).toBe(body.kid);
  });

  it('a missing Transit key fails a start-up that requires keys (CLI commands) with ERR_BACKEND_KEY_MISSING', async () => {
    const config = configFrom({
      backends: { vault: { type: 'vault-transit', address: url, token: OPENBAO_ROOT_TOKEN } },
      rings: [{ name: 'ghost', backend: 'vault', key: `signet-missing-${suffix}`, alg: 'ES256' }],
      clients: [openClient()],
    });
    await expect(startGateway(config)).rejects.toMatchObject({ code: 'ERR_BACKEND_KEY_MISSING', status: 502 });
  });

  it('a key of the wrong type for the ring alg fails start-up with ERR_UNSUPPORTED_KEY', async () => {
    const config = configFrom({
      backends: { vault: { type: 'vault-transit', address: url, token: OPENBAO_ROOT_TOKEN } },
      rings: [{ name: 'mismatch', backend: 'vault', key: key('ES256'), alg: 'RS256' }],
      clients: [openClient()],
    });
    await expect(startGateway(config)).rejects.toMatchObject({ code: 'ERR_UNSUPPORTED_KEY' });
  });

  it('an unreachable Vault answers 503 with Retry-After and keeps serving the last JWKS', async () => {
    const { VaultTransitBackend } = await import('../src/backends/vault-transit.js');
    const working = new VaultTransitBackend({ address: url, mount: 'transit', token: OPENBAO_ROOT_TOKEN, timeoutMs: 2000 });
    const dead = new VaultTransitBackend({ address: 'http://127.0.0.1:9', mount: 'transit', token: OPENBAO_ROOT_TOKEN, timeoutMs: 2000 });
    let down = false;
    // Real Vault for start-up, then the same calls against a closed port: an outage a live server cannot stage.
    const flaky = new Proxy(working, { get: (target, prop) => Reflect.get(down ? dead : target, prop) });
    const outage = await startGateway(
      configFrom({
        backends: { vault: { type: 'vault-transit', address: url, token: OPENBAO_ROOT_TOKEN } },
        rings: [{ name: 'es256', backend: 'vault', key: key('ES256'), alg: 'ES256' }],
        clients: [openClient()],
      }),
      { backends: new Map([['vault', flaky]]) },
    );
    try {
      down = true;
      const response = await requestToken(outage.url, { audience: 'x' });
      expect(response.status).toBe(503);
      expect(response.body.error.code).toBe('ERR_BACKEND_UNAVAILABLE');
      expect(response.headers.get('retry-after')).toMatch(/^\d+$/);
      await outage.app.signet.refresh.refreshAll({ throwOnError: false });
      const jwks = await fetch(`${outage.url}/.well-known/jwks.json`);
      expect(jwks.status).toBe(200);
      expect(((await jwks.json()) as { keys: unknown[] }).keys).toHaveLength(1);
      const ready = await fetch(`${outage.url}/readyz`);
      expect(((await ready.json()) as { rings: Array<{ refresh_error?: string }> }).rings[0]!.refresh_error).toMatch(/unreachable|ECONNREFUSED/);
    } finally {
      await outage.close();
    }
  });

  describe('AppRole with the generated signer policy', () => {
    const mount = `approle-${suffix}`;
    let roleId: string;
    let secretId: string;

    beforeAll(async () => {
      // The policy `signet vault-policy --role signer` prints for a config with this test's ring.
      const ringConfig = configFrom({
        backends: { vault: { type: 'vault-transit', address: url, token: OPENBAO_ROOT_TOKEN } },
        rings: [{ name: 'es256', backend: 'vault', key: key('ES256'), alg: 'ES256' }],
      });
      await vaultRequest(url, 'PUT', `sys/policies/acl/signet-signer-${suffix}`, { policy: vaultPolicy(ringConfig, 'signer') });
      await vaultRequest(url, 'POST', `sys/auth/${mount}`, { type: 'approle' });
      await vaultRequest(url, 'POST', `auth/${mount}/role/signet`, { token_policies: [`signet-signer-${suffix}`], token_ttl: '1h' });
      roleId = ((await vaultRequest(url, 'GET', `auth/${mount}/role/signet/role-id`)) as { data: { role_id: string } }).data.role_id;
      secretId = ((await vaultRequest(url, 'POST', `auth/${mount}/role/signet/secret-id`)) as { data: { secret_id: string } }).data.secret_id;
    });

    it('logs in, signs, and the token verifies', async () => {
      const approleGateway = await startGateway(
        configFrom({
          backends: { vault: { type: 'vault-transit', address: url, approle: { role_id: roleId, secret_id: secretId, mount } } },
          rings: [{ name: 'es256', backend: 'vault', key: key('ES256'), alg: 'ES256' }],
          clients: [openClient()],
        }),
      );
      try {
        const { status, body } = await requestToken(approleGateway.url, { audience: 'aud' });
        expect(status).toBe(200);
        await remoteVerifier(`${approleGateway.url}/.well-known/jwks.json`, 'ES256').jwtVerify(body.token, { audience: 'aud' });
      } finally {
        await approleGateway.close();
      }
    });

    it('logs in again when its AppRole token reaches its max TTL', async () => {
      await vaultRequest(url, 'POST', `auth/${mount}/role/short`, { token_policies: [`signet-signer-${suffix}`], token_ttl: '1s', token_max_ttl: '2s' });
      const shortRole = ((await vaultRequest(url, 'GET', `auth/${mount}/role/short/role-id`)) as { data: { role_id: string } }).data.role_id;
      const shortSecret = ((await vaultRequest(url, 'POST', `auth/${mount}/role/short/secret-id`)) as { data: { secret_id: string } }).data.secret_id;
      const { VaultTransitBackend } = await import('../src/backends/vault-transit.js');
      const backend = new VaultTransitBackend({ address: url, mount: 'transit', approle: { roleId: shortRole, secretId: shortSecret, mount }, timeoutMs: 5000 });
      const ref = { ring: 'es256', key: key('ES256'), alg: 'ES256' as const };
      try {
        expect((await backend.sign(ref, 1, Buffer.from('a.b'))).length).toBe(64);
        await new Promise((resolve) => setTimeout(resolve, 2500)); // the first token is dead by now
        expect((await backend.sign(ref, 1, Buffer.from('c.d'))).length).toBe(64);
      } finally {
        await backend.close();
      }
    });

    it('key audit: nothing to report under the generated signer policy; the root token and an exportable key are reported', async () => {
      const { VaultTransitBackend } = await import('../src/backends/vault-transit.js');
      const ref = { ring: 'es256', key: key('ES256'), alg: 'ES256' as const };
      const signer = new VaultTransitBackend({ address: url, mount: 'transit', approle: { roleId, secretId, mount }, timeoutMs: 5000 });
      expect(await signer.auditKey(ref)).toEqual([]);
      const root = new VaultTransitBackend({ address: url, mount: 'transit', token: OPENBAO_ROOT_TOKEN, timeoutMs: 5000 });
      expect(await root.auditKey(ref)).toEqual([expect.stringMatching(/^Signet's Vault token is a root token/)]);
      const leaky = `signet-leaky-${suffix}`;
      await vaultRequest(url, 'POST', `transit/keys/${leaky}`, { type: 'ecdsa-p256', exportable: true, allow_plaintext_backup: true });
      const findings = await root.auditKey({ ring: 'leaky', key: leaky, alg: 'ES256' });
      expect(findings.join('\n')).toMatch(/is exportable/);
      expect(findings.join('\n')).toMatch(/plaintext backup/);
      await Promise.all([signer.close(), root.close()]);
    });

    it('the generated signer policy cannot rotate, make a key exportable, export or read other keys', async () => {
      const login = (await vaultRequest(url, 'POST', `auth/${mount}/login`, { role_id: roleId, secret_id: secretId })) as { auth: { client_token: string } };
      const token = login.auth.client_token;
      const k = key('ES256');
      await expect(vaultRequest(url, 'GET', `transit/keys/${k}`, undefined, token)).resolves.toBeDefined();
      await expect(vaultRequest(url, 'POST', `transit/keys/${k}/rotate`, {}, token)).rejects.toThrow(/403/);
      await expect(vaultRequest(url, 'POST', `transit/keys/${k}/config`, { exportable: true }, token)).rejects.toThrow(/403/);
      await expect(vaultRequest(url, 'GET', `transit/export/signing-key/${k}`, undefined, token)).rejects.toThrow(/403/);
      await vaultRequest(url, 'POST', `transit/keys/other-${suffix}`, { type: 'ecdsa-p256' });
      await expect(vaultRequest(url, 'GET', `transit/keys/other-${suffix}`, undefined, token)).rejects.toThrow(/403/);
      const config = (await vaultRequest(url, 'GET', `transit/keys/${k}`)) as { data: { exportable: boolean } };
      expect(config.data.exportable).toBe(false);
    });
  });
});
