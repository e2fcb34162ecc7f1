// POST /oauth2/token driven by OAuth clients nobody here wrote: oauth4webapi (client_secret_basic,
// client_secret_post, private_key_jwt) and Python's authlib (client_secret_basic). Every token
// verifies with jose against the served JWKS; every refusal has OAuth's error body and status.
import { execFile, spawnSync } from 'node:child_process';
import { promisify } from 'node:util';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { decodeProtectedHeader, exportJWK, generateKeyPair, SignJWT, type CryptoKey } from 'jose';
import * as oauth from 'oauth4webapi';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sha256Hex } from '../src/config/load.js';
import { CACHE_DIR } from './harness/tools.js';
import { auditRecords, tempDir, type RunningGateway } from './helpers/gateway.js';
import { startPublicGateway } from './helpers/public-gateway.js';
import { remoteVerifier } from './helpers/verify.js';

const ORDERS_KEY = 'sgt_orders-oauth-secret-0123456789abcdefgh';
const LIMITED_KEY = 'sgt_limited-oauth-secret-0123456789abcdefg';
const PLAIN_KEY = 'sgt_plain-oauth-secret-0123456789abcdefghij';
const PYTHON = join(CACHE_DIR, 'venv', 'bin', 'python');
const AUTHLIB_CLIENT = join(import.meta.dirname, 'helpers', 'authlib_client_credentials.py');
// Never execFileSync here: the gateway runs in this process and must keep answering.
const run = promisify(execFile);

function authlibPython(): string {
  const probe = existsSync(PYTHON) ? spawnSync(PYTHON, ['-c', 'import authlib, requests'], { stdio: 'ignore' }) : undefined;
  if (probe?.status !== 0) throw new Error(`authlib is missing from ${PYTHON}: run scripts/install-test-backends.sh (it installs authlib into the test venv)`);
  return PYTHON;
}

describe('OAuth 2.0 token endpoint', () => {
  let gateway: RunningGateway;
  let as: oauth.AuthorizationServer;
  let reportsKey: CryptoKey;
  let reportsKid: string;
  const insecure = { [oauth.allowInsecureRequests]: true };
  const verify = (token: string, audience: string) => remoteVerifier(`${gateway.url}/.well-known/jwks.json`, 'ES256').jwtVerify(token, { issuer: gateway.url, audience });

  beforeAll(async () => {
    const pair = await generateKeyPair('ES256', { extractable: true });
    reportsKey = pair.privateKey;
    reportsKid = randomUUID();
    gateway = await startPublicGateway({
      backends: { dev: { type: 'local', data_dir: tempDir() } },
      rings: [{ name: 'main', backend: 'dev', alg: 'ES256', create_if_missing: true }],
      clients: [
        { name: 'orders', api_key_sha256: sha256Hex(ORDERS_KEY), rings: ['main'], audiences: ['https://orders.internal/*', 'urn:svc:*'], claims: ['scope'], access_token_format: 'rfc9068' },
        { name: 'reports', jwks: { keys: [{ ...(await exportJWK(pair.publicKey)), kid: reportsKid, alg: 'ES256' }] }, rings: ['main'], audiences: ['*'] },
        { name: 'plain', api_key_sha256: sha256Hex(PLAIN_KEY), rings: ['main'], audiences: ['*'] },
        { name: 'limited', api_key_sha256: sha256Hex(LIMITED_KEY), rings: ['main'], audiences: ['*'], rate_limit_per_second: 1, rate_limit_burst: 1 },
      ],
    });
    as = await oauth.processDiscoveryResponse(new URL(gateway.url), await oauth.discoveryRequest(new URL(gateway.url), { algorithm: 'oauth2', ...insecure }));
  });
  afterAll(async () => gateway?.close());

  const form = (params: Record<string, string | string[]>, headers: Record<string, string> = {}) => {
    const body = new URLSearchParams();
    for (const [name, value] of Object.entries(params)) for (const item of [value].flat()) body.append(name, item);
    return fetch(`${gateway.url}/oauth2/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers }, body });
  };
  const basic = (id: string, secret: string) => ({ authorization: `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}` });

  it('publishes RFC 8414 metadata, and the OIDC discovery document lists the token endpoint too', async () => {
    expect(as).toMatchObject({
      issuer: gateway.url,
      token_endpoint: `${gateway.url}/oauth2/token`,
      jwks_uri: `${gateway.url}/.well-known/jwks.json`,
      grant_types_supported: ['client_credentials', 'urn:ietf:params:oauth:grant-type:token-exchange'],
      token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post', 'private_key_jwt'],
    });
    const oidc = (await (await fetch(`${gateway.url}/.well-known/openid-configuration`)).json()) as Record<string, unknown>;
    expect(oidc).toMatchObject({ token_endpoint: as.token_endpoint, grant_types_supported: as.grant_types_supported, token_endpoint_auth_methods_supported: as.token_endpoint_auth_methods_supported });
  });

  it('client_credentials with client_secret_basic (oauth4webapi): an RFC 9068 access token, audited with the method', async () => {
    const response = await oauth.clientCredentialsGrantRequest(as, { client_id: 'orders' }, oauth.ClientSecretBasic(ORDERS_KEY), { resource: 'https://orders.internal/api', scope: 'orders:read orders:write' }, insecure);
    expect(response.headers.get('cache-control')).toBe('no-store');
    const result = await oauth.processClientCredentialsResponse(as, { client_id: 'orders' }, response);
    expect(result.scope).toBe('orders:read orders:write');
    expect(decodeProtectedHeader(result.access_token)).toMatchObject({ typ: 'at+jwt' });
    const { payload } = await verify(result.access_token, 'https://orders.internal/api');
    expect(payload).toMatchObject({ sub: 'orders', client_id: 'orders', scope: 'orders:read orders:write', iss: gateway.url });
    expect(result.expires_in).toBe((payload.exp as number) - (payload.iat as number));
    expect(auditRecords(gateway).find((r) => r.jti === payload.jti)).toMatchObject({ client: 'orders', grant_type: 'client_credentials', auth: { method: 'client_secret_basic' }, client_address: '127.0.0.1' });
  });

  it('client_credentials with client_secret_post (oauth4webapi), several audiences', async () => {
    const params = new URLSearchParams([['audience', 'urn:svc:a'], ['audience', 'urn:svc:b']]);
    const result = await oauth.processClientCredentialsResponse(as, { client_id: 'orders' }, await oauth.clientCredentialsGrantRequest(as, { client_id: 'orders' }, oauth.ClientSecretPost(ORDERS_KEY), params, insecure));
    const { payload } = await verify(result.access_token, 'urn:svc:b');
    expect(payload.aud).toEqual(['urn:svc:a', 'urn:svc:b']);
    expect(auditRecords(gateway).find((r) => r.jti === payload.jti)).toMatchObject({ auth: { method: 'client_secret_post' } });
  });

  it('client_credentials with private_key_jwt against the client\'s registered keys (oauth4webapi); a replayed assertion is refused', async () => {
    const auth = oauth.PrivateKeyJwt({ key: reportsKey, kid: reportsKid });
    const result = await oauth.processClientCredentialsResponse(as, { client_id: 'reports' }, await oauth.clientCredentialsGrantRequest(as, { client_id: 'reports' }, auth, { audience: 'https://reports.internal' }, insecure));
    const { payload } = await verify(result.access_token, 'https://reports.internal');
    expect(decodeProtectedHeader(result.access_token).typ).toBe('JWT');
    expect(payload.sub).toBe('reports');

    const assertion = await new SignJWT({ jti: randomUUID() }).setProtectedHeader({ alg: 'ES256', kid: reportsKid }).setIssuer('reports').setSubject('reports').setAudience(as.token_endpoint!).setIssuedAt().setExpirationTime('1m').sign(reportsKey);
    const params = { grant_type: 'client_credentials', client_id: 'reports', client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer', client_assertion: assertion, audience: 'x' };
    expect((await form(params)).status).toBe(200);
    const replay = await form(params);
    expect(replay.status).toBe(401);
    expect(await replay.json()).toEqual({ error: 'invalid_client', error_description: expect.stringMatching(/already used/) });
    const forged = await new SignJWT({ jti: randomUUID() }).setProtectedHeader({ alg: 'ES256', kid: reportsKid }).setIssuer('reports').setSubject('reports').setAudience(as.token_endpoint!).setIssuedAt().setExpirationTime('1m').sign((await generateKeyPair('ES256')).privateKey);
    expect((await form({ ...params, client_assertion: forged })).status).toBe(401);
  });

  it('client_credentials with client_secret_basic from Python authlib', async () => {
    const { stdout } = await run(authlibPython(), [AUTHLIB_CLIENT, as.token_endpoint!, 'orders', ORDERS_KEY, 'urn:svc:authlib']);
    const token = JSON.parse(stdout) as { access_token: string; token_type: string; scope: string };
    expect(token.token_type).toBe('Bearer');
    expect(token.scope).toBe('orders:read');
    const { payload } = await verify(token.access_token, 'urn:svc:authlib');
    expect(payload.client_id).toBe('orders');
  });

  it('authlib sees a wrong secret as invalid_client', async () => {
    const failed = (await run(authlibPython(), [AUTHLIB_CLIENT, as.token_endpoint!, 'orders', 'sgt_wrong', 'urn:svc:authlib']).catch((error: unknown) => error)) as { code: number; stdout: string };
    expect(failed.code).toBe(1);
    expect(JSON.parse(failed.stdout)).toMatchObject({ error: 'invalid_client' });
  });

  const refusals: Array<[string, number, string, Record<string, string | string[]>, Record<string, string>, RegExp?]> = [
    ['a wrong secret (Basic)', 401, 'invalid_client', { grant_type: 'client_credentials', audience: 'urn:svc:a' }, basic('orders', 'sgt_wrong')],
    ['an unknown client (post)', 401, 'invalid_client', { grant_type: 'client_credentials', audience: 'urn:svc:a', client_id: 'ghost', client_secret: ORDERS_KEY }, {}],
    ['no client authentication', 401, 'invalid_client', { grant_type: 'client_credentials', audience: 'urn:svc:a' }, {}],
    ['a bearer instead of Basic', 401, 'invalid_client', { grant_type: 'client_credentials', audience: 'urn:svc:a' }, { authorization: `Bearer ${ORDERS_KEY}` }],
    ['two authentication methods', 400, 'invalid_request', { grant_type: 'client_credentials', audience: 'urn:svc:a', client_id: 'orders', client_secret: ORDERS_KEY }, basic('orders', ORDERS_KEY), /exactly one client authentication/],
    ['an unsupported grant', 400, 'unsupported_grant_type', { grant_type: 'password', username: 'u', password: 'p' }, basic('orders', ORDERS_KEY)],
    ['no grant_type', 400, 'invalid_request', { audience: 'urn:svc:a' }, basic('orders', ORDERS_KEY)],
    ['grant_type twice', 400, 'invalid_request', { grant_type: ['client_credentials', 'client_credentials'], audience: 'urn:svc:a' }, basic('orders', ORDERS_KEY)],
    ['no audience or resource', 400, 'invalid_request', { grant_type: 'client_credentials' }, basic('orders', ORDERS_KEY), /audience or resource/],
    ['an audience outside the policy', 400, 'invalid_target', { grant_type: 'client_credentials', audience: 'https://evil.example' }, basic('orders', ORDERS_KEY)],
    ['a resource with a fragment', 400, 'invalid_target', { grant_type: 'client_credentials', resource: 'https://orders.internal/api#x' }, basic('orders', ORDERS_KEY)],
    ['a relative resource', 400, 'invalid_target', { grant_type: 'client_credentials', resource: '/api' }, basic('orders', ORDERS_KEY)],
    ['a scope the policy does not allow', 400, 'invalid_scope', { grant_type: 'client_credentials', audience: 'x', scope: 'admin', client_id: 'plain', client_secret: PLAIN_KEY }, {}],
    ['a malformed scope', 400, 'invalid_scope', { grant_type: 'client_credentials', audience: 'urn:svc:a', scope: 'a  "b"' }, basic('orders', ORDERS_KEY)],
    ['a token exchange without subject_token', 400, 'invalid_request', { grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange', audience: 'urn:svc:a' }, basic('orders', ORDERS_KEY), /subject_token/],
  ];

  it.each(refusals)('refuses %s with %i %s', async (_name, status, error, params, headers, description) => {
    const response = await form(params, headers);
    expect(response.status).toBe(status);
    expect(response.headers.get('cache-control')).toBe('no-store');
    const body = (await response.json()) as Record<string, string>;
    expect(Object.keys(body).sort()).toEqual(['error', 'error_description']);
    expect(body.error).toBe(error);
    expect(body.error_description).toMatch(description ?? /./);
    expect(body.error_description).toMatch(/^[\x20-\x21\x23-\x5b\x5d-\x7e]*$/); // RFC 6749 §5.2 character set
    if (headers.authorization?.startsWith('Basic') && status === 401) expect(response.headers.get('www-authenticate')).toMatch(/^Basic realm="signet"/);
  });

  it('refuses a JSON body: the endpoint takes forms only, and /v1/tokens still takes JSON only', async () => {
    const json = await fetch(`${gateway.url}/oauth2/token`, { method: 'POST', headers: { 'content-type': 'application/json', ...basic('orders', ORDERS_KEY) }, body: JSON.stringify({ grant_type: 'client_credentials', audience: 'urn:svc:a' }) });
    expect((await json.json()) as Record<string, string>).toMatchObject({ error: 'invalid_request' });
    const formToApi = await fetch(`${gateway.url}/v1/tokens`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Bearer ${ORDERS_KEY}` }, body: 'audience=urn:svc:a' });
    expect(formToApi.status).toBe(415);
    expect(((await formToApi.json()) as { error: { code: string } }).error.code).toBe('ERR_UNSUPPORTED_MEDIA_TYPE');
  });

  it('rate-limits per client with 429 temporarily_unavailable and Retry-After', async () => {
    const params = { grant_type: 'client_credentials', audience: 'x', client_id: 'limited', client_secret: LIMITED_KEY };
    expect((await form(params)).status).toBe(200);
    const limited = await form(params);
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toBe('1');
    expect(((await limited.json()) as Record<string, string>).error).toBe('temporarily_unavailable');
  });
});
