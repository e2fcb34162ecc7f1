// The per-sign signature check, on cue: a backend that starts returning signatures the published
// key does not verify (what a key swapped under a version does between two refreshes) gets
// 502 ERR_KEY_INTEGRITY, no token, and the version stops signing at once. The real-server
// scenario (a Transit key deleted and recreated under traffic) is in key-integrity.test.ts; a real
// backend cannot be made to do this on cue, so a wrapper corrupts the local backend's signatures.
import type { FastifyInstance } from 'fastify';
import pino from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { buildApp } from '../src/app.js';
import { checkSampled, type KeyRef, type SignatureCheck, type SignCall, type SigningBackend } from '../src/backends/backend.js';
import { LocalBackend } from '../src/backends/local.js';
import { configFrom, openClient, tempDir, TEST_API_KEY } from './helpers/gateway.js';

const open: FastifyInstance[] = [];
afterAll(async () => {
  for (const app of open) await app.close();
});

describe('a signature that does not verify against the published key', () => {
  it('is 502 ERR_KEY_INTEGRITY with no token, the version stops signing at once, and the event is counted', async () => {
    const dataDir = tempDir();
    const local = new LocalBackend({ dataDir });
    let corrupt = false;
    const swapped: SigningBackend = Object.assign(Object.create(local) as SigningBackend, {
      sign: async (ref: KeyRef, version: number, input: Uint8Array, check?: SignatureCheck, call?: SignCall) => {
        const signature = await local.sign(ref, version, input, undefined, call);
        if (corrupt) signature[signature.length - 1] = signature.at(-1)! ^ 0x01;
        return checkSampled(check, ref, version, input, signature);
      },
    });
    const config = configFrom({ backends: { dev: { type: 'local', data_dir: dataDir } }, rings: [{ name: 'main', backend: 'dev', key: 'signet-main', alg: 'ES256', create_if_missing: true }], clients: [openClient()] });
    const app = await buildApp(config, { logger: pino({ level: 'silent' }), backends: new Map([['dev', swapped]]), scheduling: false });
    open.push(app);
    await app.ready();
    const ask = () => app.inject({ method: 'POST', url: '/v1/tokens', headers: { authorization: `Bearer ${TEST_API_KEY}`, 'content-type': 'application/json' }, payload: { audience: 'a' } });

    expect((await ask()).statusCode).toBe(200);
    corrupt = true;
    const refused = await ask();
    expect(refused.statusCode).toBe(502);
    const body = JSON.parse(refused.body) as { token?: string; error: { code: string; message: string } };
    expect(body.token).toBeUndefined();
    expect(body.error.code).toBe('ERR_KEY_INTEGRITY');
    expect(body.error.message).toMatch(/did not verify against the published key; that version stopped signing/);

    // Stopped at once, not at the next refresh: the next request finds nothing that may sign.
    const next = await ask();
    expect(next.statusCode).toBe(503);
    expect(JSON.parse(next.body).error.code).toBe('ERR_NO_SIGNING_VERSION');
    const signing = await app.inject({ method: 'GET', url: '/readyz/signing' });
    expect(signing.statusCode).toBe(503);
    const metrics = (await app.inject({ method: 'GET', url: '/metrics' })).body;
    expect(metrics).toMatch(/signet_key_integrity_events_total\{ring="main",kind="signature_mismatch"\} 1/);
  });
});
