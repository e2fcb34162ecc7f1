// Batch signing against a real OpenBao: concurrent signs share Transit requests, every signature
// verifies, and a per-item error from Transit reaches only its own caller.
import { randomBytes } from 'node:crypto';
import { compactVerify, importSPKI } from 'jose';
import { describe, expect, inject, it } from 'vitest';
import { VaultTransitBackend, type VaultClient } from '../src/backends/vault-transit.js';
import { OPENBAO_ROOT_TOKEN, vaultRequest } from './harness/openbao.js';

describe('Transit batch signing (real OpenBao)', () => {
  const url = inject('openbaoUrl');
  const options = { address: url, mount: 'transit', token: OPENBAO_ROOT_TOKEN, timeoutMs: 5000, batchMaxSize: 16, batchMaxInFlight: 1 };

  it('coalesces 100 concurrent signs into few requests, capped at the batch size, all verifying', async () => {
    const key = `signet-batch-${randomBytes(4).toString('hex')}`;
    await vaultRequest(url, 'POST', `transit/keys/${key}`, { type: 'ecdsa-p256' });
    const client = VaultTransitBackend.createClient(options);
    let signRequests = 0;
    const counting: VaultClient = {
      get token() {
        return client.token;
      },
      set token(value) {
        client.token = value;
      },
      read: (path) => client.read(path),
      write: (path, data) => {
        if (path.includes('/sign/')) signRequests++;
        return client.write(path, data);
      },
    };
    const backend = new VaultTransitBackend(options, counting);
    const ref = { ring: 'batch', key, alg: 'ES256' as const };
    const [version] = await backend.listVersions(ref);
    const publicKey = await importSPKI(`-----BEGIN PUBLIC KEY-----\n${Buffer.from(version!.spki).toString('base64')}\n-----END PUBLIC KEY-----`, 'ES256');

    const header = Buffer.from('{"alg":"ES256"}').toString('base64url');
    const inputs = Array.from({ length: 100 }, (_, i) => `${header}.${Buffer.from(`payload ${i}`).toString('base64url')}`);
    const signatures = await Promise.all(inputs.map((input) => backend.sign(ref, 1, Buffer.from(input))));
    for (const [i, signature] of signatures.entries()) {
      const { payload } = await compactVerify(`${inputs[i]}.${Buffer.from(signature).toString('base64url')}`, publicKey);
      expect(Buffer.from(payload).toString()).toBe(`payload ${i}`); // each caller got its own signature
    }
    expect(signRequests).toBeLessThan(100 / 4);
    expect(backend.batcher.stats.largestBatch).toBeLessThanOrEqual(16);
    expect(backend.batcher.stats.largestBatch).toBeGreaterThan(1);
  });

  it('maps a per-item Transit error to its caller only', async () => {
    const key = `signet-batch-${randomBytes(4).toString('hex')}`;
    await vaultRequest(url, 'POST', `transit/keys/${key}`, { type: 'ecdsa-p256' });
    const backend = new VaultTransitBackend(options);
    const ref = { ring: 'batch', key, alg: 'ES256' as const };
    const items = [
      { ref, version: 1, input: Buffer.from('a.b').toString('base64'), bytes: Buffer.from('a.b') },
      { ref, version: 1, input: '!!! not base64 !!!', bytes: Buffer.from('') }, // Transit rejects this item alone, with HTTP 200
      { ref, version: 1, input: Buffer.from('c.d').toString('base64'), bytes: Buffer.from('c.d') },
    ];
    const results = await backend.signBatch(items);
    expect(results.map((r) => r.ok)).toEqual([true, false, true]);
    const failed = results[1] as { ok: false; error: { code: string; message: string } };
    expect(failed.error.code).toBe('ERR_BACKEND_RESPONSE');
    expect(failed.error.message).toMatch(/base64/);
  });
});
