// Revocation records in OpenBao KV under the generated least-privilege policies: a gateway whose
// token may sign but not rotate still records the revocation of its signing version, says that
// nothing signs now (503), and the key audit reports a token that could not read the records.
import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { VaultTransitBackend } from '../src/backends/vault-transit.js';
import { vaultPolicy } from '../src/vault/policy.js';
import { vaultRequest } from './harness/openbao.js';
import { adminRequest, configFrom, publishedKids, type RunningGateway } from './helpers/gateway.js';
import { Replicas, signingKid, vaultRing } from './helpers/replicas.js';

const replicas = new Replicas();
afterAll(() => replicas.closeAll());

/** A token holding exactly these HCL policies. */
async function tokenWith(url: string, policies: string[]): Promise<string> {
  const names = await Promise.all(
    policies.map(async (policy) => {
      const name = `test-${randomBytes(4).toString('hex')}`;
      await vaultRequest(url, 'PUT', `sys/policies/acl/${name}`, { policy });
      return name;
    }),
  );
  const created = (await vaultRequest(url, 'POST', 'auth/token/create', { policies: names, ttl: '1h' })) as { auth: { client_token: string } };
  return created.auth.client_token;
}

describe('revocation records under the generated policies', () => {
  it('a gateway whose token may sign but not rotate records the revocation of its signing version and answers 503: nothing signs now', async () => {
    const url = inject('openbaoUrl');
    const setup = await vaultRing('signer-only');
    const token = await tokenWith(url, [vaultPolicy(configFrom(setup.raw), 'signer')]);
    const raw = setup.raw as { backends: { vault: Record<string, unknown> } };
    raw.backends.vault.token = token;
    const gateway: RunningGateway = await replicas.start(setup);
    const kid1 = await signingKid(gateway);

    const response = await adminRequest(gateway.url, 'POST', `/rings/${setup.ring}/versions/1/revoke`, { reason: 'exposed' });
    expect(response.status).toBe(503);
    const body = (await response.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe('ERR_BACKEND_UNAVAILABLE');
    expect(body.error.message).toMatch(/version 1 is revoked \(recorded in state_dir, backend\), but nothing signs now/);
    expect((await publishedKids(gateway.url)).kids).not.toContain(kid1);
    expect(await signingKid(gateway)).toBe('HTTP 503 ERR_NO_SIGNING_VERSION');
    // The write-once record is in KV, beside the key.
    const record = (await vaultRequest(url, 'GET', `secret/data/signet/revocations/transit/${setup.key}/1`)) as { data: { data: { reason: string } } };
    expect(record.data.data.reason).toBe('exposed');
  }, 30_000);

  it('the key audit reports a token that cannot list or read the revocation records', async () => {
    const url = inject('openbaoUrl');
    const setup = await vaultRing('no-list');
    const signer = vaultPolicy(configFrom(setup.raw), 'signer');
    // The generated policy without its record rules: the token can sign but not see revocations kept in KV.
    const withoutRecords = signer.replace(/path "secret\/(data|metadata)\/signet\/revocations\/[^"]*" \{[^}]*\}\n?/g, '');
    expect(withoutRecords).not.toBe(signer);
    const backend = new VaultTransitBackend({ address: url, mount: 'transit', token: await tokenWith(url, [withoutRecords]), timeoutMs: 5000, revocationKvMount: 'secret' });
    const findings = await backend.auditKey({ ring: setup.ring, key: setup.key, alg: 'ES256' });
    await backend.close();
    expect(findings.some((finding) => /cannot list secret\/metadata\/signet\/revocations/.test(finding))).toBe(true);
    expect(findings.some((finding) => /cannot read secret\/data\/signet\/revocations\/.*\/1/.test(finding))).toBe(true);

    const complete = new VaultTransitBackend({ address: url, mount: 'transit', token: await tokenWith(url, [signer]), timeoutMs: 5000, revocationKvMount: 'secret' });
    expect(await complete.auditKey({ ring: setup.ring, key: setup.key, alg: 'ES256' })).toEqual([]);
    await complete.close();
  }, 30_000);
});
