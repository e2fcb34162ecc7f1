// The identity part of the config: every mistake names the field and the fix, and clients one
// identity could match twice are refused at start-up. The overlap check is tested on its own too.
import { execFileSync } from 'node:child_process';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config/load.js';
import { patternsOverlap } from '../src/tokens/pattern-overlap.js';
import { parseSubjectAltName } from '../src/auth/certificates.js';
import { ConfigError } from '../src/errors.js';
import { configFrom, openClient, tempDir } from './helpers/gateway.js';

const provider = { name: 'k8s', issuer: 'https://kubernetes.default.svc', audiences: ['signet'] };
const base = (extra: Record<string, unknown> = {}) => ({
  backends: { dev: { type: 'local', data_dir: '/tmp/x' } },
  rings: [{ name: 'main', backend: 'dev', alg: 'ES256' }],
  identity_providers: [provider],
  clients: [openClient()],
  ...extra,
});
const workload = (name: string, sub: string, extra: Record<string, unknown> = {}) => ({ name, rings: ['main'], audiences: ['*'], identities: [{ provider: 'k8s', claims: { sub } }], ...extra });

function failure(raw: Record<string, unknown>): ConfigError {
  try {
    configFrom(raw);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error('expected a ConfigError');
}

describe('identity configuration', () => {
  it('parses providers with their defaults and clients without API keys', () => {
    const config = configFrom(base({ clients: [workload('orders', 'system:serviceaccount:orders:*', { subject_from: 'sub', access_token_format: 'rfc9068' })] }));
    expect(config.identityProviders).toEqual([
      { name: 'k8s', issuer: 'https://kubernetes.default.svc', jwksUri: undefined, audiences: ['signet'], algorithms: ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'], maxTokenAgeMs: 3600_000, clockSkewMs: 30_000, jwksCacheMs: 600_000, jwksCooldownMs: 30_000, ca: undefined },
    ]);
    expect(config.clients[0]).toMatchObject({ name: 'orders', apiKeySha256: undefined, identity: { subjectFrom: 'sub', accessTokenFormat: 'rfc9068', identities: [{ provider: 'k8s', claims: { sub: 'system:serviceaccount:orders:*' } }] } });
    expect(config.reload).toEqual({ watch: true });
  });

  it.each([
    ['HS256 as a provider alg', base({ identity_providers: [{ ...provider, algorithms: ['RS256', 'HS256'] }] }), 'identity_providers[0].algorithms[1]', /"none" and HS\* never are/],
    ['none as a provider alg', base({ identity_providers: [{ ...provider, algorithms: ['none'] }] }), 'identity_providers[0].algorithms[0]', /asymmetric/],
    ['a provider without audiences', base({ identity_providers: [{ ...provider, audiences: [] }] }), 'identity_providers[0].audiences', /at least one audience/],
    ['a plain-HTTP issuer off loopback', base({ identity_providers: [{ ...provider, issuer: 'http://kubernetes.default.svc' }] }), 'identity_providers[0].issuer', /https URL/],
    ['two providers with one issuer', base({ identity_providers: [provider, { ...provider, name: 'k8s-2' }] }), 'identity_providers[1].issuer', /each issuer appears once/],
    ['an unknown provider', base({ clients: [{ ...workload('a', 'x'), identities: [{ provider: 'gh', claims: { sub: 'x' } }] }] }), 'clients[0].identities[0].provider', /no identity provider named "gh"/],
    ['an identity without claims', base({ clients: [{ ...workload('a', 'x'), identities: [{ provider: 'k8s', claims: {} }] }] }), 'clients[0].identities[0].claims', /at least one claim/],
    ['a client with no way to authenticate', base({ clients: [{ name: 'a', rings: ['main'], audiences: ['*'] }] }), 'clients[0]', /no way to authenticate/],
    ['subject_from without an identity', base({ clients: [{ ...openClient(), subject_from: 'sub' }] }), 'clients[0].subject_from', /needs identities or certificates/],
    ['a certificate matcher with both SAN kinds', base({ clients: [{ ...openClient(), certificates: [{ uri_san: 'spiffe://a/*', dns_san: 'a' }] }] }), 'clients[0].certificates[0]', /exactly one of uri_san/],
    ['a private key registered for private_key_jwt', base({ clients: [{ ...openClient(), jwks: { keys: [{ kty: 'EC', crv: 'P-256', x: 'x', y: 'y', d: 'secret' }] } }] }), 'clients[0].jwks.keys[0]', /private member "d"/],
    ['an unknown access token format', base({ clients: [{ ...openClient(), access_token_format: 'opaque' }] }), 'clients[0].access_token_format', /jwt, rfc9068/],
    ['two clients with one name', base({ clients: [openClient(), { ...openClient(), api_key_sha256: 'a'.repeat(64) }] }), 'clients[1].name', /defined twice/],
    ['overlapping workload matchers', base({ clients: [workload('a', 'system:serviceaccount:orders:*'), workload('b', 'system:serviceaccount:*:api')] }), 'clients[1].identities[0]', /could match both client "b" and client "a"/],
    // A token can carry both claims, so matchers on different claims always overlap.
    ['matchers on different claims', base({ clients: [workload('a', 'system:serviceaccount:orders:*'), { name: 'b', rings: ['main'], audiences: ['*'], identities: [{ provider: 'k8s', claims: { repository: 'org/app' } }] }] }), 'clients[1].identities[0]', /could match both/],
    ['overlapping certificate SANs', base({ clients: [{ ...openClient(), certificates: [{ uri_san: 'spiffe://example.org/ns/*' }] }, { name: 'b', rings: ['main'], audiences: ['*'], certificates: [{ uri_san: 'spiffe://example.org/*/orders' }] }] }), 'clients[1].certificates[0]', /could also match client "test-client"/],
    ['a client CA file that is missing', base({ server: { tls: { cert_file: '/etc/hostname', key_file: '/etc/hostname', client_ca_file: '/nonexistent/ca.pem' } } }), 'server.tls.client_ca_file', /cannot read/],
  ])('rejects %s, naming the field', (_name, raw, field, message) => {
    const error = failure(raw as Record<string, unknown>);
    expect(error.field).toBe(field);
    expect(error.message).toMatch(message);
  });

  it('accepts workload matchers that a claim keeps apart', () => {
    const config = configFrom(
      base({
        clients: [workload('a', 'system:serviceaccount:orders:*'), workload('b', 'system:serviceaccount:billing:*'), { name: 'c', rings: ['main'], audiences: ['*'], identities: [{ provider: 'k8s', claims: { sub: 'system:serviceaccount:ci:*', repository: 'org/*' } }] }],
      }),
    );
    expect(config.clients.map((c) => c.name)).toEqual(['a', 'b', 'c']);
  });

  it('examples/workload-identity.yaml loads', () => {
    const dir = tempDir();
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1', '-subj', '/CN=x', '-keyout', join(dir, 'tls.key'), '-out', join(dir, 'tls.crt')], { stdio: 'ignore' });
    copyFileSync(join(dir, 'tls.crt'), join(dir, 'client-ca.crt'));
    // The k8s provider's ca_file is read at start-up: point it at a file that exists here.
    const example = readFileSync(join(import.meta.dirname, '..', 'examples', 'workload-identity.yaml'), 'utf8').replace('/var/run/secrets/kubernetes.io/serviceaccount/ca.crt', join(dir, 'tls.crt'));
    writeFileSync(join(dir, 'signet.yaml'), example);
    const config = loadConfig({ SIGNET_CONFIG: join(dir, 'signet.yaml'), SIGNET_TLS_DIR: dir });
    expect(config.clients.map((c) => c.name)).toEqual(['orders', 'deploy', 'reports', 'legacy-billing']);
    expect(config.identityProviders.map((p) => p.name)).toEqual(['k8s', 'github']);
    expect(config.server.tls?.clientCaFile).toBe(join(dir, 'client-ca.crt'));
  });

  it.each([
    ['a', 'a', true],
    ['a', 'b', false],
    ['a*', '*b', true],
    ['orders:*', 'billing:*', false],
    ['spiffe://x/ns/*/sa/api', 'spiffe://x/ns/orders/sa/*', true],
    ['*:api', '*:web', false],
    ['x*z', 'xz', false], // `*` matches at least one character with the policy's matcher
    ['x*z', 'xyz', true],
    ['x*y*z', 'xz', false],
    ['**', 'anything', true],
  ])('patternsOverlap(%s, %s) = %s', (left, right, overlap) => {
    expect(patternsOverlap(left, right)).toBe(overlap);
    expect(patternsOverlap(right, left)).toBe(overlap);
  });

  it('reads SANs the way Node prints them, quoted values included', () => {
    expect(parseSubjectAltName('DNS:a.example, URI:spiffe://example.org/ns/orders/sa/api, IP Address:127.0.0.1')).toEqual({ dnsNames: ['a.example'], uris: ['spiffe://example.org/ns/orders/sa/api'] });
    // A comma inside a value is quoted by Node, so it cannot forge a second entry.
    expect(parseSubjectAltName('URI:"spiffe://example.org/a, URI:spiffe://example.org/admin"')).toEqual({ dnsNames: [], uris: ['spiffe://example.org/a, URI:spiffe://example.org/admin'] });
  });
});
