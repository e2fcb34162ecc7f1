// A Kubernetes-shaped flow without Kubernetes: a loopback issuer with its own discovery document
// and JWKS mints projected service-account tokens; callers exchange them for Signet tokens signed
// through a real OpenBao, with oauth4webapi (a client nobody here wrote) and with a bearer on
// /v1/tokens. Forged, stale and misaddressed tokens are refused with the right OAuth error.
import { randomBytes } from 'node:crypto';
import { decodeProtectedHeader } from 'jose';
import * as oauth from 'oauth4webapi';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { sha256Hex } from '../src/config/load.js';
import { OPENBAO_ROOT_TOKEN, vaultRequest } from './harness/openbao.js';
import { auditRecords, requestToken, type RunningGateway } from './helpers/gateway.js';
import { startPublicGateway } from './helpers/public-gateway.js';
import { freePort } from './harness/tools.js';
import { TestIssuer } from './helpers/test-issuer.js';
import { remoteVerifier } from './helpers/verify.js';

const EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const JWT_TYPE = 'urn:ietf:params:oauth:token-type:jwt';
const DELEGATOR_KEY = 'sgt_delegating-gateway-key-0123456789abcdef';
const ISSUER = 'https://signet.test';

describe('workload identity: Kubernetes-shaped tokens', () => {
  let issuer: TestIssuer;
  let stranger: TestIssuer;
  let gateway: RunningGateway;
  let as: oauth.AuthorizationServer;
  let unreachableIssuer: string;
  const insecure = { [oauth.allowInsecureRequests]: true };

  beforeAll(async () => {
    [issuer, stranger] = await Promise.all([TestIssuer.start('signet'), TestIssuer.start('signet')]);
    unreachableIssuer = `http://127.0.0.1:${await freePort()}`; // nothing listens there
    const key = `signet-wi-${randomBytes(3).toString('hex')}`;
    await vaultRequest(inject('openbaoUrl'), 'POST', `transit/keys/${key}`, { type: 'ecdsa-p256' });
    gateway = await startPublicGateway({
      backends: { vault: { type: 'vault-transit', address: inject('openbaoUrl'), token: OPENBAO_ROOT_TOKEN } },
      rings: [{ name: 'main', backend: 'vault', key, alg: 'ES256', issuer: ISSUER }],
      identity_providers: [
        { name: 'k8s', issuer: issuer.url, audiences: ['signet'], max_token_age_seconds: 900, jwks_refetch_cooldown_seconds: 1 },
        { name: 'down', issuer: unreachableIssuer, audiences: ['signet'] },
      ],
      clients: [
        {
          name: 'orders',
          identities: [{ provider: 'k8s', claims: { sub: 'system:serviceaccount:orders:*' } }],
          subject_from: 'sub',
          access_token_format: 'rfc9068',
          rings: ['main'],
          audiences: ['https://payments.internal', 'urn:svc:*'],
          claims: ['scope'],
        },
        { name: 'billing', identities: [{ provider: 'k8s', claims: { sub: 'system:serviceaccount:billing:api' } }], rings: ['main'], audiences: ['*'] },
        { name: 'edge', api_key_sha256: sha256Hex(DELEGATOR_KEY), rings: ['main'], audiences: ['https://payments.internal'], subjects: ['system:serviceaccount:*'] },
      ],
    });
    as = await oauth.processDiscoveryResponse(new URL(gateway.url), await oauth.discoveryRequest(new URL(gateway.url), { algorithm: 'oauth2', ...insecure }));
  });
  afterAll(async () => {
    await gateway?.close();
    await Promise.all([issuer?.close(), stranger?.close()]);
  });

  const exchange = (subjectToken: string, clientId = 'orders', extra: Record<string, string> = {}) =>
    oauth.genericTokenEndpointRequest(as, { client_id: clientId }, oauth.None(), EXCHANGE, { subject_token: subjectToken, subject_token_type: JWT_TYPE, audience: 'https://payments.internal', ...extra }, insecure);

  const rawExchange = async (subjectToken: string): Promise<{ status: number; body: Record<string, string> }> => {
    const response = await fetch(`${gateway.url}/oauth2/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: EXCHANGE, subject_token: subjectToken, subject_token_type: JWT_TYPE, audience: 'https://payments.internal', client_id: 'orders' }),
    });
    return { status: response.status, body: (await response.json()) as Record<string, string> };
  };

  it('discovery lists the token endpoint, both grants and the client authentication methods', () => {
    expect(as.token_endpoint).toBe(`${gateway.url}/oauth2/token`);
    expect(as.grant_types_supported).toEqual(['client_credentials', EXCHANGE]);
    expect(as.token_endpoint_auth_methods_supported).toEqual(expect.arrayContaining(['client_secret_basic', 'client_secret_post', 'private_key_jwt']));
  });

  it('exchanges a service-account token for an RFC 9068 access token bound to the workload, and audits it', async () => {
    const saToken = await issuer.mint({ namespace: 'orders', serviceAccount: 'api' });
    const result = await oauth.processGenericTokenEndpointResponse(as, { client_id: 'orders' }, await exchange(saToken, 'orders', { scope: 'payments:write' }));
    expect(result.token_type).toBe('bearer'); // oauth4webapi lower-cases it
    expect(result.issued_token_type).toBe('urn:ietf:params:oauth:token-type:access_token');
    expect(result.scope).toBe('payments:write');
    expect(result.expires_in).toBeGreaterThan(0);
    expect(decodeProtectedHeader(result.access_token)).toMatchObject({ typ: 'at+jwt', alg: 'ES256' });
    const { payload } = await remoteVerifier(`${gateway.url}/.well-known/jwks.json`, 'ES256').jwtVerify(result.access_token, { issuer: ISSUER, audience: 'https://payments.internal' });
    expect(payload).toMatchObject({ sub: 'system:serviceaccount:orders:api', client_id: 'orders', scope: 'payments:write' });
    const record = auditRecords(gateway).find((r) => r.jti === payload.jti)!;
    expect(record).toMatchObject({ client: 'orders', grant_type: EXCHANGE, auth: { method: 'subject_token', provider: 'k8s', identity: 'system:serviceaccount:orders:api' }, request_id: expect.any(String), client_address: '127.0.0.1' });
  });

  it('the same token works as a bearer on /v1/tokens, and binds the subject to the workload', async () => {
    const saToken = await issuer.mint({ namespace: 'orders', serviceAccount: 'worker' });
    const own = await requestToken(gateway.url, { audience: 'urn:svc:ledger' }, saToken);
    expect(own.status).toBe(200);
    const { payload } = await remoteVerifier(`${gateway.url}/.well-known/jwks.json`, 'ES256').jwtVerify(own.body.token, { issuer: ISSUER, audience: 'urn:svc:ledger' });
    expect(payload.sub).toBe('system:serviceaccount:orders:worker');
    expect(auditRecords(gateway).find((r) => r.jti === payload.jti)).toMatchObject({ client: 'orders', auth: { method: 'workload_token', provider: 'k8s' } });
    const other = await requestToken(gateway.url, { audience: 'urn:svc:ledger', subject: 'system:serviceaccount:orders:api' }, saToken);
    expect(other.status).toBe(403);
    expect(other.body.error.code).toBe('ERR_SUBJECT_NOT_ALLOWED');
  });

  it.each(['bearer', 'BEARER', 'Bearer  '])('takes the workload token under the scheme written %j (case-insensitive, RFC 9110 §11.1), as API keys are', async (scheme) => {
    const saToken = await issuer.mint({ namespace: 'orders', serviceAccount: 'worker' });
    const response = await fetch(`${gateway.url}/v1/tokens`, {
      method: 'POST',
      headers: { authorization: `${scheme.trim()}${scheme.endsWith('  ') ? '  ' : ' '}${saToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ audience: 'urn:svc:ledger' }),
    });
    expect(response.status, await response.clone().text()).toBe(200);
  });

  it('keeps working when the issuer rotates its keys mid-test', async () => {
    const before = await issuer.mint();
    expect((await rawExchange(before)).status).toBe(200);
    const fetches = issuer.jwksFetches;
    await issuer.rotate({ dropOld: true });
    await new Promise((resolve) => setTimeout(resolve, 1100)); // jwks_refetch_cooldown_seconds: 1
    const after = await issuer.mint();
    const response = await rawExchange(after);
    expect(response.status).toBe(200);
    expect(issuer.jwksFetches).toBe(fetches + 1); // the unknown kid made Signet fetch the JWKS again, once
  });

  it.each([
    ['a wrong audience', (i: TestIssuer) => i.mint({ audience: 'vault' }), /'aud' claim is not accepted/],
    ['an expired token', (i: TestIssuer) => i.mint({ expiresIn: -120, issuedAgo: 700 }), /expired/],
    ['a token not valid yet (nbf)', (i: TestIssuer) => i.mint({ notBeforeIn: 300 }), /not valid yet/],
    ['a token older than max_token_age_seconds', (i: TestIssuer) => i.mint({ issuedAgo: 1000, expiresIn: 600 }), /older than/],
    ['an unknown kid', (i: TestIssuer) => i.mintWithUnknownKey(), /no key of the provider matches/],
    ['alg none', (i: TestIssuer) => Promise.resolve(i.mintUnsigned()), /alg is not accepted/],
    ['HS256 signed with the provider\'s public key (alg confusion)', (i: TestIssuer) => i.mintHs256WithPublicKey(), /alg is not accepted/],
  ])('refuses %s: 400 invalid_request from /oauth2/token, 401 from /v1/tokens', async (_name, mint, reason) => {
    const token = await mint(issuer);
    const oauthAnswer = await rawExchange(token);
    expect(oauthAnswer.status).toBe(400);
    expect(oauthAnswer.body.error).toBe('invalid_request');
    expect(oauthAnswer.body.error_description).toMatch(reason);
    const bearer = await requestToken(gateway.url, { audience: 'urn:svc:a' }, token);
    expect(bearer.status).toBe(401);
    expect(bearer.body.error.code).toBe('ERR_UNAUTHENTICATED');
  });

  it('refuses a token of another issuer, also through oauth4webapi', async () => {
    const token = await stranger.mint({ namespace: 'orders' });
    const error = await oauth.processGenericTokenEndpointResponse(as, { client_id: 'orders' }, await exchange(token)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(oauth.ResponseBodyError);
    expect((error as oauth.ResponseBodyError).error).toBe('invalid_request');
    expect((error as oauth.ResponseBodyError).error_description).toMatch(/is not a trusted identity provider/);
  });

  it('answers 503 with Retry-After when a provider\'s keys cannot be fetched, not 401', async () => {
    const token = await stranger.mint({ issuer: unreachableIssuer });
    const bearer = await requestToken(gateway.url, { audience: 'urn:svc:a' }, token);
    expect(bearer.status).toBe(503);
    expect(bearer.body.error.code).toBe('ERR_IDENTITY_PROVIDER_UNAVAILABLE');
    expect(bearer.headers.get('retry-after')).toBeTruthy();
    const exchanged = await rawExchange(token);
    expect(exchanged.status).toBe(503);
    expect(exchanged.body.error).toBe('temporarily_unavailable');
  });

  it('refuses a workload no client matches, and a client_id the token does not identify', async () => {
    const payments = await rawExchange(await issuer.mint({ namespace: 'payments' }));
    expect(payments.body).toMatchObject({ error: 'invalid_request', error_description: expect.stringMatching(/matches no client/) });
    const wrongClient = await oauth.processGenericTokenEndpointResponse(as, { client_id: 'billing' }, await exchange(await issuer.mint({ namespace: 'orders' }), 'billing')).catch((e: unknown) => e);
    expect((wrongClient as oauth.ResponseBodyError).error).toBe('invalid_request');
  });

  it('a service-account token is also a client assertion (private_key_jwt) for client_credentials', async () => {
    const assertion = await issuer.mint({ namespace: 'billing', serviceAccount: 'api' });
    const response = await fetch(`${gateway.url}/oauth2/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'client_credentials', client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer', client_assertion: assertion, resource: 'https://billing.internal/api' }),
    });
    expect(response.status).toBe(200);
    expect(response.headers.get('cache-control')).toBe('no-store');
    const body = (await response.json()) as { access_token: string; issued_token_type?: string };
    expect(body.issued_token_type).toBeUndefined();
    const { payload } = await remoteVerifier(`${gateway.url}/.well-known/jwks.json`, 'ES256').jwtVerify(body.access_token, { issuer: ISSUER, audience: 'https://billing.internal/api' });
    expect(payload.sub).toBe('billing');
    const forged = await fetch(`${gateway.url}/oauth2/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'client_credentials', client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer', client_assertion: issuer.mintUnsigned({ namespace: 'billing' }), audience: 'x' }),
    });
    expect(forged.status).toBe(401);
    expect(((await forged.json()) as { error: string }).error).toBe('invalid_client');
  });

  it('an authenticated client exchanges a workload token for a token about that workload, within its subjects', async () => {
    const saToken = await issuer.mint({ namespace: 'orders', serviceAccount: 'api' });
    const response = await oauth.genericTokenEndpointRequest(as, { client_id: 'edge' }, oauth.ClientSecretBasic(DELEGATOR_KEY), EXCHANGE, { subject_token: saToken, subject_token_type: JWT_TYPE, resource: 'https://payments.internal' }, insecure);
    const result = await oauth.processGenericTokenEndpointResponse(as, { client_id: 'edge' }, response);
    expect(result.issued_token_type).toBe(JWT_TYPE);
    const { payload } = await remoteVerifier(`${gateway.url}/.well-known/jwks.json`, 'ES256').jwtVerify(result.access_token, { issuer: ISSUER, audience: 'https://payments.internal' });
    expect(decodeProtectedHeader(result.access_token).typ).toBe('JWT');
    expect(payload.sub).toBe('system:serviceaccount:orders:api');
    expect(auditRecords(gateway).find((r) => r.jti === payload.jti)).toMatchObject({ client: 'edge', auth: { method: 'client_secret_basic' } });
  });
});
