// Serving HTTPS directly: the same API over TLS, with HSTS.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { configFrom, openClient, startGateway, tempDir, TEST_API_KEY, type RunningGateway } from './helpers/gateway.js';

function selfSigned(): { cert: string; key: string } {
  const dir = tempDir();
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  // openssl ships with Debian and every CI image we target; without it this fails loudly.
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', key, '-out', cert], { stdio: 'ignore' });
  return { cert, key };
}

function httpsCall(url: string, ca: Buffer, method = 'GET', body?: string): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, ca, headers: body ? { 'content-type': 'application/json', authorization: `Bearer ${TEST_API_KEY}` } : {} }, (res) => {
      let text = '';
      res.on('data', (chunk: Buffer) => (text += chunk.toString()));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('TLS', () => {
  let gateway: RunningGateway | undefined;
  afterAll(async () => gateway?.close());

  it('serves the JWKS and issues tokens over HTTPS with HSTS', async () => {
    const { cert, key } = selfSigned();
    gateway = await startGateway(
      configFrom({
        server: { tls: { cert_file: cert, key_file: key } },
        backends: { dev: { type: 'local', data_dir: tempDir() } },
        rings: [{ name: 'main', backend: 'dev', alg: 'ES256', create_if_missing: true }],
        clients: [openClient()],
      }),
    );
    expect(gateway.url).toMatch(/^https:\/\//);
    const ca = readFileSync(cert);
    const jwks = await httpsCall(`${gateway.url}/.well-known/jwks.json`, ca);
    expect(jwks.status).toBe(200);
    expect(jwks.headers['strict-transport-security']).toBe('max-age=31536000; includeSubDomains');
    const token = await httpsCall(`${gateway.url}/v1/tokens`, ca, 'POST', JSON.stringify({ audience: 'x' }));
    expect(token.status).toBe(200);
    expect(JSON.parse(token.body).token_type).toBe('JWT');
  });

  it('names the field when a certificate file is missing', () => {
    expect(() =>
      configFrom({
        server: { tls: { cert_file: '/nonexistent/cert.pem', key_file: '/nonexistent/key.pem' } },
        backends: { dev: { type: 'local', data_dir: tempDir() } },
        rings: [{ name: 'main', backend: 'dev', alg: 'ES256' }],
      }),
    ).toThrow(/server\.tls\.cert_file: cannot read/);
  });
});
