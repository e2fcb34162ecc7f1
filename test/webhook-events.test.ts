// Webhook events cannot be forged by callers: a receiver that verifies the way the README says
// (JWKS signature, typ signet-event+jwt, aud urn:signet:webhook:<its URL>) accepts a real event
// and refuses any token a client can obtain, even one with the event's very claims.
import { createServer, type Server } from 'node:http';
import { createRemoteJWKSet, decodeJwt, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sha256Hex } from '../src/config/load.js';
import { NoSigningVersionError } from '../src/errors.js';
import type { KeyRing } from '../src/keyring/keyring.js';
import pino from 'pino';
import { WebhookNotifier } from '../src/webhooks.js';
import { adminRequest, configFrom, requestToken, startGateway, tempDir, TEST_ADMIN_KEY, TEST_API_KEY, type RunningGateway } from './helpers/gateway.js';

describe('webhook events', () => {
  let gateway: RunningGateway;
  let receiver: Server;
  let hookUrl: string;
  const received: string[] = [];

  /** The README's receiver recipe. */
  const verifyEvent = (token: string) =>
    jwtVerify(token, createRemoteJWKSet(new URL(`${gateway.url}/.well-known/jwks.json`)), {
      issuer: 'https://signet.test',
      audience: `urn:signet:webhook:${hookUrl}`,
      typ: 'signet-event+jwt',
      algorithms: ['ES256'],
    });

  beforeAll(async () => {
    receiver = createServer((request, response) => {
      let body = '';
      request.on('data', (chunk: Buffer) => (body += chunk.toString()));
      request.on('end', () => {
        received.push(body);
        response.writeHead(204).end();
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    hookUrl = `http://127.0.0.1:${(receiver.address() as { port: number }).port}/signet`;
    gateway = await startGateway(
      configFrom({
        server: { public_url: 'https://signet.test' },
        backends: { dev: { type: 'local', data_dir: tempDir() } },
        rings: [{ name: 'main', backend: 'dev', alg: 'ES256', create_if_missing: true }],
        // A client allowed every audience and every claim name: the strongest forger there is.
        clients: [{ name: 'wide', api_key_sha256: sha256Hex(TEST_API_KEY), rings: ['*'], audiences: ['*'], subjects: ['*'], claims: ['*'], max_ttl_seconds: 3600 }],
        admin: { api_key_sha256: [sha256Hex(TEST_ADMIN_KEY)] },
        webhooks: [{ url: hookUrl, attempts: 3, initial_backoff_ms: 20 }],
      }),
    );
  });
  afterAll(async () => {
    await gateway?.close();
    await new Promise((resolve) => receiver?.close(resolve));
  });

  it('no client may ask for an event audience', async () => {
    for (const audience of [`urn:signet:webhook:${hookUrl}`, `URN:Signet:webhook:${hookUrl}`, 'urn:signet:canary']) {
      const response = await requestToken(gateway.url, { audience });
      expect(response.status).toBe(403);
      expect(response.body.error.code).toBe('ERR_AUDIENCE_RESERVED');
    }
  });

  it("a client token with an event's claims is refused by the receiver recipe", async () => {
    const claims = { event: 'key.revoked', ring: 'main', version: 1, kid: 'x', reason: 'forged', replacement: { version: 2, kid: 'y' } };
    const forged = await requestToken(gateway.url, { audience: hookUrl, claims });
    expect(forged.status).toBe(200);
    await expect(verifyEvent(forged.body.token)).rejects.toThrow();
  });

  it('a real event passes the receiver recipe', async () => {
    const response = await adminRequest(gateway.url, 'POST', '/rings/main/versions/1/revoke', { reason: 'drill' });
    expect(response.status).toBe(200);
    const deadline = Date.now() + 5000;
    while (received.length === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(received).toHaveLength(1);
    const { payload } = await verifyEvent(received[0]!);
    expect(payload).toMatchObject({ event: 'key.revoked', ring: 'main', version: 1, reason: 'drill', aud: `urn:signet:webhook:${hookUrl}` });
    expect(decodeJwt(received[0]!).aud).not.toBe(hookUrl);
  });

  it('an event waits for a version that may sign (after an integrity event nothing can, until the replacement does); that wait uses no delivery attempt', async () => {
    // A stand-in ring: when a real one regains a signer depends on the backend and the refresh.
    let refusals = 0;
    const ring = {
      name: 'main',
      config: { issuer: 'https://signet.test' },
      signJws: async (claims: Record<string, unknown>) => {
        if (refusals < 3) {
          refusals++;
          throw new NoSigningVersionError('no key version of this ring may sign right now');
        }
        return { token: `header.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.signature`, kid: 'k', version: 2 };
      },
    } as unknown as KeyRing;
    const notifier = new WebhookNotifier([{ url: hookUrl, events: ['key.integrity'], attempts: 1, initialBackoffMs: 20, timeoutMs: 2000 }], pino({ level: 'silent' }));
    const before = received.length;
    const [delivery] = await notifier.notify(ring, 'key.integrity', { version: 1 });
    expect(refusals).toBe(3);
    expect(delivery).toMatchObject({ delivered: true, attempts: 1 });
    expect(received.length).toBe(before + 1);
    expect(decodeJwt(received.at(-1)!)).toMatchObject({ event: 'key.integrity', ring: 'main', version: 1, aud: `urn:signet:webhook:${hookUrl}` });
    notifier.close();
  });
});
