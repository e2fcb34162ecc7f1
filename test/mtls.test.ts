// mTLS with server.tls.client_ca_file: certificates made by the test (openssl). A good certificate
// is accepted on /v1/tokens, by tls_client_auth at /oauth2/token (oauth4webapi) and by the SDK;
// none, an expired one, one from another CA and a SAN that matches no client are refused.
import { request } from 'node:https';
import { decodeJwt } from 'jose';
import * as oauth from 'oauth4webapi';
import { Agent, fetch as undiciFetch } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sha256Hex } from '../src/config/load.js';
import { createTokenSource } from '../src/client/index.js';
import { TestCa, type Pem } from './helpers/certs.js';
import { auditRecords, tempDir, type RunningGateway } from './helpers/gateway.js';
import { startPublicGateway } from './helpers/public-gateway.js';

const ORDERS_SAN = 'spiffe://example.org/ns/orders/sa/api';
const REPORTS_KEY = 'sgt_reports-mtls-key-0123456789abcdefghijkl';

interface Answer {
  status: number;
  body: any;
}

describe('mTLS', () => {
  let gateway: RunningGateway;
  let serverCa: TestCa;
  const certs: Record<string, Pem> = {};

  // agent: false: no TLS session is reused between calls made with different certificates.
  function call(path: string, { cert, body, headers = {}, form }: { cert?: Pem; body?: unknown; headers?: Record<string, string>; form?: string } = {}): Promise<Answer> {
    return new Promise((resolve, reject) => {
      const req = request(
        `${gateway.url}${path}`,
        {
          method: 'POST',
          agent: false,
          ca: serverCa.pem.cert,
          ...(cert ? { cert: cert.cert, key: cert.key } : {}),
          headers: { 'content-type': form ? 'application/x-www-form-urlencoded' : 'application/json', ...headers },
        },
        (res) => {
          let text = '';
          res.on('data', (chunk: Buffer) => (text += chunk.toString()));
          res.on('end', () => resolve({ status: res.statusCode!, body: JSON.parse(text) }));
        },
      );
      req.on('error', reject);
      req.end(form ?? JSON.stringify(body ?? { audience: 'https://api.internal' }));
    });
  }

  beforeAll(async () => {
    serverCa = TestCa.create('server');
    const clientCa = TestCa.create('clients');
    const otherCa = TestCa.create('other');
    const server = serverCa.issue('signet', 'IP:127.0.0.1', { server: true });
    certs.orders = clientCa.issue('orders', `URI:${ORDERS_SAN}`);
    certs.reports = clientCa.issue('reports', 'DNS:reports.internal');
    certs.expired = clientCa.issue('expired', `URI:${ORDERS_SAN}`, { expired: true });
    certs.foreign = otherCa.issue('foreign', `URI:${ORDERS_SAN}`);
    certs.stranger = clientCa.issue('stranger', 'URI:spiffe://example.org/ns/payments/sa/api');
    certs.both = clientCa.issue('both', `URI:${ORDERS_SAN},DNS:reports.internal`);
    gateway = await startPublicGateway(
      {
        server: { tls: { cert_file: server.certFile, key_file: server.keyFile, client_ca_file: clientCa.pem.certFile } },
        backends: { dev: { type: 'local', data_dir: tempDir() } },
        rings: [{ name: 'main', backend: 'dev', alg: 'ES256', create_if_missing: true }],
        clients: [
          { name: 'orders', certificates: [{ uri_san: 'spiffe://example.org/ns/orders/*' }], subject_from: 'sub', rings: ['main'], audiences: ['https://api.internal'] },
          { name: 'reports', api_key_sha256: sha256Hex(REPORTS_KEY), certificates: [{ dns_san: 'reports.internal' }], rings: ['main'], audiences: ['*'] },
        ],
      },
      { scheme: 'https' },
    );
  });
  afterAll(async () => gateway?.close());

  it('accepts a good certificate: the SAN picks the client and, with subject_from, the subject', async () => {
    const answer = await call('/v1/tokens', { cert: certs.orders });
    expect(answer.status).toBe(200);
    const claims = decodeJwt(answer.body.token);
    expect(claims.sub).toBe(ORDERS_SAN);
    expect(auditRecords(gateway).find((r) => r.jti === claims.jti)).toMatchObject({ client: 'orders', auth: { method: 'client_certificate', identity: ORDERS_SAN } });
  });

  it.each([
    ['no certificate and no key', undefined, /client certificate/],
    ['an expired certificate', 'expired', /CERT_HAS_EXPIRED/],
    ['a certificate from another CA', 'foreign', /refused: (UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT)/],
    ['a SAN that matches no client', 'stranger', /matches no client/],
    ['SANs that match two clients', 'both', /matches several clients \(orders, reports\)/],
  ])('refuses %s with 401 ERR_UNAUTHENTICATED', async (_name, which, reason) => {
    const answer = await call('/v1/tokens', { ...(which ? { cert: certs[which] } : {}) });
    expect(answer.status).toBe(401);
    expect(answer.body.error.code).toBe('ERR_UNAUTHENTICATED');
    expect(answer.body.error.message).toMatch(reason);
  });

  it('refuses a bearer key and a certificate that name two different clients', async () => {
    const answer = await call('/v1/tokens', { cert: certs.orders, headers: { authorization: `Bearer ${REPORTS_KEY}` } });
    expect(answer.status).toBe(401);
    expect(answer.body.error.message).toMatch(/identify|identifies/);
    expect((await call('/v1/tokens', { cert: certs.reports, headers: { authorization: `Bearer ${REPORTS_KEY}` } })).status).toBe(200);
  });

  it('tls_client_auth (RFC 8705) at /oauth2/token, through oauth4webapi with the certificate', async () => {
    const dispatcher = new Agent({ connect: { ca: serverCa.pem.cert, cert: certs.reports!.cert, key: certs.reports!.key } });
    const options = { [oauth.customFetch]: (url: string, init: RequestInit) => undiciFetch(url, { ...(init as object), dispatcher }) as unknown as Promise<Response> };
    const as = await oauth.processDiscoveryResponse(new URL(gateway.url), await oauth.discoveryRequest(new URL(gateway.url), { algorithm: 'oauth2', ...options }));
    expect(as.token_endpoint_auth_methods_supported).toContain('tls_client_auth');
    const response = await oauth.clientCredentialsGrantRequest(as, { client_id: 'reports' }, oauth.TlsClientAuth(), { audience: 'urn:svc:x' }, options);
    const result = await oauth.processClientCredentialsResponse(as, { client_id: 'reports' }, response);
    expect(decodeJwt(result.access_token).sub).toBe('reports');
    const wrong = await call('/oauth2/token', { cert: certs.reports, form: 'grant_type=client_credentials&client_id=orders&audience=urn:svc:x' });
    expect(wrong.status).toBe(401);
    expect(wrong.body.error).toBe('invalid_client');
    await dispatcher.close();
  });

  it('the SDK authenticates with a client certificate', async () => {
    const source = createTokenSource({ url: gateway.url, tls: { cert: certs.orders!.cert, key: certs.orders!.key, ca: serverCa.pem.cert } });
    try {
      const token = await source.getToken({ audience: 'https://api.internal' });
      expect(decodeJwt(token).sub).toBe(ORDERS_SAN);
    } finally {
      source.close();
    }
  });
});
