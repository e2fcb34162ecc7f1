// POST /v1/tokens over real HTTP (local backend): every policy rejection has its stable code,
// and what the gateway signs is what a verifier expects.
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sha256Hex } from '../src/config/load.js';
import { configFrom, requestToken, startGateway, tempDir, TEST_API_KEY, type RunningGateway } from './helpers/gateway.js';
import { remoteVerifier } from './helpers/verify.js';

const NARROW_KEY = 'sgt_narrow-client-key-0123456789abcdefghijkl';
const LIMITED_KEY = 'sgt_limited-client-key-0123456789abcdefghij';

describe('token API', () => {
  let gateway: RunningGateway;

  beforeAll(async () => {
    const config = configFrom({
      server: { public_url: 'https://signet.test' },
      backends: { dev: { type: 'local', data_dir: tempDir() } },
      rings: [
        { name: 'main', backend: 'dev', alg: 'ES256', create_if_missing: true, max_token_ttl_seconds: 900 },
        { name: 'other', backend: 'dev', alg: 'EdDSA', create_if_missing: true, issuer: 'https://other.test' },
      ],
      clients: [
        { name: 'wide', api_key_sha256: sha256Hex(TEST_API_KEY), rings: ['*'], audiences: ['*'], subjects: ['*'], claims: ['*'], max_ttl_seconds: 3600 },
        {
          name: 'orders',
          api_key_sha256: sha256Hex(NARROW_KEY),
          rings: ['main'],
          audiences: ['https://payments.internal', 'urn:svc:*'],
          subjects: ['user:*'],
          claims: ['scope', 'tenant'],
          max_ttl_seconds: 300,
        },
        { name: 'chatty', api_key_sha256: sha256Hex(LIMITED_KEY), rings: ['main'], audiences: ['*'], rate_limit_per_second: 1, rate_limit_burst: 2 },
      ],
    });
    gateway = await startGateway(config);
  });
  afterAll(async () => gateway?.close());

  it('issues a token whose registered claims and header come from the gateway', async () => {
    const before = Math.floor(Date.now() / 1000);
    const { status, body } = await requestToken(gateway.url, { audience: 'urn:svc:ledger', subject: 'user:42', ttl_seconds: 120, claims: { scope: 'read', tenant: 't1' } }, NARROW_KEY);
    expect(status).toBe(200);
    expect(Object.keys(body).sort()).toEqual(['expires_at', 'kid', 'token', 'token_type']);
    expect(body.token_type).toBe('JWT');
    const header = decodeProtectedHeader(body.token);
    expect(header).toEqual({ alg: 'ES256', kid: body.kid, typ: 'JWT' });
    const claims = decodeJwt(body.token);
    expect(claims).toMatchObject({ iss: 'https://signet.test', sub: 'user:42', aud: 'urn:svc:ledger', scope: 'read', tenant: 't1', exp: body.expires_at });
    expect(claims.iat).toBeGreaterThanOrEqual(before);
    expect(claims.nbf).toBe(claims.iat);
    expect(claims.exp! - claims.iat!).toBe(120);
    expect(claims.jti).toMatch(/^[A-Za-z0-9_-]{22}$/);
    const verified = await remoteVerifier(`${gateway.url}/.well-known/jwks.json`, 'ES256').jwtVerify(body.token, { issuer: 'https://signet.test', audience: 'urn:svc:ledger' });
    expect(verified.payload.sub).toBe('user:42');
  });

  it('defaults the subject to the calling client and the ring to its first ring', async () => {
    const { body } = await requestToken(gateway.url, { audience: 'https://payments.internal' }, NARROW_KEY);
    expect(decodeJwt(body.token)).toMatchObject({ sub: 'orders', iss: 'https://signet.test' });
  });

  it('signs with the requested ring and its issuer', async () => {
    const { status, body } = await requestToken(gateway.url, { audience: ['a', 'b'], key: 'other' });
    expect(status).toBe(200);
    expect(decodeProtectedHeader(body.token).alg).toBe('EdDSA');
    const verified = await remoteVerifier(`${gateway.url}/rings/other/.well-known/jwks.json`, 'EdDSA').jwtVerify(body.token, { issuer: 'https://other.test', audience: 'b' });
    expect(verified.payload.aud).toEqual(['a', 'b']);
  });

  it('every jti is unique', async () => {
    const tokens = await Promise.all(Array.from({ length: 20 }, () => requestToken(gateway.url, { audience: 'x' })));
    expect(new Set(tokens.map((t) => decodeJwt(t.body.token).jti)).size).toBe(20);
  });

  const rejections: Array<[string, unknown, number, string, string?]> = [
    ['a reserved claim (iss)', { audience: 'urn:svc:a', claims: { iss: 'evil' } }, 400, 'ERR_RESERVED_CLAIM'],
    ['a reserved claim (exp)', { audience: 'urn:svc:a', claims: { exp: 9999999999 } }, 400, 'ERR_RESERVED_CLAIM'],
    ['a reserved claim (sub)', { audience: 'urn:svc:a', claims: { sub: 'admin' } }, 400, 'ERR_RESERVED_CLAIM'],
    ['a reserved claim (jti)', { audience: 'urn:svc:a', claims: { jti: 'replay' } }, 400, 'ERR_RESERVED_CLAIM'],
    ['a claim outside the policy', { audience: 'urn:svc:a', claims: { admin: true } }, 403, 'ERR_CLAIM_NOT_ALLOWED'],
    ['an audience outside the policy', { audience: 'https://evil.example' }, 403, 'ERR_AUDIENCE_NOT_ALLOWED'],
    ['one bad audience in a list', { audience: ['urn:svc:a', 'https://evil.example'] }, 403, 'ERR_AUDIENCE_NOT_ALLOWED'],
    ['a subject outside the policy', { audience: 'urn:svc:a', subject: 'admin' }, 403, 'ERR_SUBJECT_NOT_ALLOWED'],
    ['a glob that must not match across the literal part', { audience: 'urn:svcX:a' }, 403, 'ERR_AUDIENCE_NOT_ALLOWED'],
    ['a ring outside the policy', { audience: 'urn:svc:a', key: 'other' }, 403, 'ERR_RING_NOT_ALLOWED'],
    ['a ring that does not exist', { audience: 'urn:svc:a', key: 'nope' }, 404, 'ERR_UNKNOWN_RING'],
    ['a TTL over the client maximum', { audience: 'urn:svc:a', ttl_seconds: 301 }, 400, 'ERR_TTL_TOO_LONG'],
    ['a TTL of zero', { audience: 'urn:svc:a', ttl_seconds: 0 }, 400, 'ERR_INVALID_REQUEST'],
    ['a TTL as a string', { audience: 'urn:svc:a', ttl_seconds: '60' }, 400, 'ERR_INVALID_REQUEST'],
    ['a fractional TTL', { audience: 'urn:svc:a', ttl_seconds: 1.5 }, 400, 'ERR_INVALID_REQUEST'],
    ['no audience', {}, 400, 'ERR_INVALID_REQUEST'],
    ['an empty audience list', { audience: [] }, 400, 'ERR_INVALID_REQUEST'],
    ['an unknown field (alg)', { audience: 'urn:svc:a', alg: 'none' }, 400, 'ERR_INVALID_REQUEST'],
    ['claims that are not an object', { audience: 'urn:svc:a', claims: ['scope'] }, 400, 'ERR_INVALID_REQUEST'],
    ['a body that is an array', [], 400, 'ERR_INVALID_REQUEST'],
    ['malformed JSON', '{"audience": ', 400, 'ERR_MALFORMED_JSON'],
    ['an empty body', '', 400, 'ERR_MALFORMED_JSON'],
  ];

  it.each(rejections)('rejects %s with %i %s', async (_name, body, status, code) => {
    const response = await requestToken(gateway.url, body, NARROW_KEY);
    expect(response.status).toBe(status);
    expect(response.body).toEqual({ error: { code, message: expect.any(String) } });
  });

  it('caps the wide client at the ring maximum', async () => {
    const response = await requestToken(gateway.url, { audience: 'x', key: 'main', ttl_seconds: 901 });
    expect(response.status).toBe(400);
    expect(response.body.error.code).toBe('ERR_TTL_TOO_LONG');
  });

  it.each([
    ['no Authorization header', undefined],
    ['an unknown key', 'Bearer sgt_wrong'],
    ['a Basic scheme', `Basic ${Buffer.from('a:b').toString('base64')}`],
    ['an empty bearer', 'Bearer '],
  ])('rejects %s with 401 ERR_UNAUTHENTICATED', async (_name, authorization) => {
    const response = await fetch(`${gateway.url}/v1/tokens`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(authorization ? { authorization } : {}) },
      body: JSON.stringify({ audience: 'x' }),
    });
    expect(response.status).toBe(401);
    expect((await response.json()).error.code).toBe('ERR_UNAUTHENTICATED');
  });

  it('rejects a non-JSON content type with 415 and an oversized body with 413', async () => {
    const text = await fetch(`${gateway.url}/v1/tokens`, { method: 'POST', headers: { authorization: `Bearer ${TEST_API_KEY}`, 'content-type': 'text/plain' }, body: 'audience=x' });
    expect(text.status).toBe(415);
    expect((await text.json()).error.code).toBe('ERR_UNSUPPORTED_MEDIA_TYPE');
    const big = await requestToken(gateway.url, { audience: 'x', claims: { blob: 'x'.repeat(20_000) } });
    expect(big.status).toBe(413);
    expect(big.body.error.code).toBe('ERR_PAYLOAD_TOO_LARGE');
  });

  it('rate-limits a client over its limit with 429 ERR_RATE_LIMITED and Retry-After', async () => {
    const statuses = [];
    for (let i = 0; i < 3; i++) statuses.push(await requestToken(gateway.url, { audience: 'x' }, LIMITED_KEY));
    expect(statuses.slice(0, 2).map((r) => r.status)).toEqual([200, 200]); // the burst
    expect(statuses[2]!.status).toBe(429);
    expect(statuses[2]!.body.error.code).toBe('ERR_RATE_LIMITED');
    expect(statuses[2]!.headers.get('retry-after')).toBe('1');
    expect((await requestToken(gateway.url, { audience: 'x' })).status).toBe(200); // other clients unaffected
  });

  it('answers unknown routes with 404 ERR_NOT_FOUND', async () => {
    const response = await fetch(`${gateway.url}/v1/nope`);
    expect(response.status).toBe(404);
    expect((await response.json()).error.code).toBe('ERR_NOT_FOUND');
  });
});
