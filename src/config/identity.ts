// The identity part of the config: trusted identity providers, and how each client proves who it
// is (API key, workload token, client certificate, its own keys for private_key_jwt). Parsed here
// so load.ts only calls in; every error names the field and the fix.
import { readFileSync } from 'node:fs';
import { ConfigError } from '../errors.js';
import { Fields } from './fields.js';
import { patternsOverlap } from '../tokens/pattern-overlap.js';
import { ACCESS_TOKEN_FORMATS, PROVIDER_ALGS, type CertificateMatcher, type ClientIdentity, type IdentityMatcher, type IdentityProviderConfig } from '../config-schema.js';


/** Client fields this module reads (load.ts adds them to the allowed list). */
export const CLIENT_IDENTITY_FIELDS = ['identities', 'certificates', 'jwks', 'jwks_uri', 'subject_from', 'access_token_format'] as const;

const PROVIDER_FIELDS = ['name', 'issuer', 'jwks_uri', 'audiences', 'algorithms', 'max_token_age_seconds', 'clock_skew_seconds', 'jwks_cache_seconds', 'jwks_refetch_cooldown_seconds', 'ca_file'];
const NAME = /^[a-z0-9][a-z0-9_-]{0,63}$/;
const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]']);
const PRIVATE_JWK_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k', 'oth'];

// Keys fetched over plain HTTP can be swapped by anyone on the path; only loopback is exempt (tests, sidecars).
function secureUrl(fields: Fields, key: string): string {
  const url = fields.url(key);
  const parsed = new URL(url);
  if (parsed.protocol !== 'https:' && !LOOPBACK.has(parsed.hostname)) {
    throw new ConfigError(fields.at(key), `must be an https URL (keys fetched over plain HTTP can be replaced in transit), got ${JSON.stringify(url)}`);
  }
  return url;
}

function parseProvider(fields: Fields): IdentityProviderConfig {
  const name = fields.string('name');
  if (!NAME.test(name)) throw new ConfigError(fields.at('name'), 'provider names use a-z, 0-9, "-" and "_" (max 64)');
  const algorithms = fields.strings('algorithms', [...PROVIDER_ALGS]);
  for (const [index, alg] of algorithms.entries()) {
    if (!(PROVIDER_ALGS as readonly string[]).includes(alg)) {
      throw new ConfigError(`${fields.at('algorithms')}[${index}]`, `${JSON.stringify(alg)} is not accepted: use asymmetric algs (${PROVIDER_ALGS.join(', ')}); "none" and HS* never are`);
    }
  }
  const audiences = fields.strings('audiences');
  if (audiences.length === 0) throw new ConfigError(fields.at('audiences'), 'name at least one audience: without one, a token this issuer made for any other service would be accepted');
  const caFile = fields.optionalString('ca_file');
  let ca: string | undefined;
  if (caFile) {
    try {
      ca = readFileSync(caFile, 'utf8');
    } catch (error) {
      throw new ConfigError(fields.at('ca_file'), `cannot read ${caFile}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
    }
  }
  return {
    name,
    issuer: secureUrl(fields, 'issuer'),
    jwksUri: fields.has('jwks_uri') ? secureUrl(fields, 'jwks_uri') : undefined,
    audiences,
    algorithms,
    maxTokenAgeMs: fields.seconds('max_token_age_seconds', 3600, { min: 1, max: 7 * 86400 }),
    clockSkewMs: fields.seconds('clock_skew_seconds', 30, { max: 600 }),
    jwksCacheMs: fields.seconds('jwks_cache_seconds', 600, { min: 1, max: 86400 }),
    jwksCooldownMs: fields.seconds('jwks_refetch_cooldown_seconds', 30, { max: 3600 }),
    ca,
  };
}

export function parseIdentityProviders(entries: unknown[]): IdentityProviderConfig[] {
  const providers: IdentityProviderConfig[] = [];
  for (const [index, entry] of entries.entries()) {
    const path = `identity_providers[${index}]`;
    const provider = parseProvider(Fields.of(path, entry, PROVIDER_FIELDS));
    if (providers.some((p) => p.name === provider.name)) throw new ConfigError(`${path}.name`, `provider "${provider.name}" is defined twice`);
    if (providers.some((p) => p.issuer === provider.issuer)) throw new ConfigError(`${path}.issuer`, `another provider already has issuer ${provider.issuer}; tokens are routed to a provider by their iss, so each issuer appears once`);
    providers.push(provider);
  }
  return providers;
}

function parseIdentities(fields: Fields, providers: readonly IdentityProviderConfig[]): IdentityMatcher[] {
  return fields.list('identities').map((entry, index) => {
    const path = `${fields.at('identities')}[${index}]`;
    const f = Fields.of(path, entry, ['provider', 'claims']);
    const provider = f.string('provider');
    if (!providers.some((p) => p.name === provider)) {
      throw new ConfigError(f.at('provider'), `no identity provider named "${provider}". Defined: ${providers.map((p) => p.name).join(', ') || 'none (add identity_providers)'}`);
    }
    const raw = f.value('claims');
    if (!raw || typeof raw !== 'object' || Array.isArray(raw) || Object.keys(raw).length === 0) {
      throw new ConfigError(f.at('claims'), 'must map at least one claim to a pattern, e.g. sub: "system:serviceaccount:orders:*"; without one, every token of the provider would be this client');
    }
    const claims: Record<string, string> = {};
    for (const [claim, pattern] of Object.entries(raw as Record<string, unknown>)) {
      if (typeof pattern !== 'string' || pattern.length === 0) throw new ConfigError(`${f.at('claims')}.${claim}`, 'must be a non-empty string pattern (`*` matches any run of characters)');
      claims[claim] = pattern;
    }
    return { provider, claims };
  });
}

function parseCertificates(fields: Fields): CertificateMatcher[] {
  return fields.list('certificates').map((entry, index) => {
    const f = Fields.of(`${fields.at('certificates')}[${index}]`, entry, ['uri_san', 'dns_san']);
    if (f.has('uri_san') === f.has('dns_san')) throw new ConfigError(f.path, 'give exactly one of uri_san (e.g. "spiffe://example.org/ns/orders/*") or dns_san');
    return f.has('uri_san') ? { san: 'uri', pattern: f.string('uri_san') } : { san: 'dns', pattern: f.string('dns_san') };
  });
}

function parseJwks(fields: Fields): { keys: Array<Record<string, unknown>> } | undefined {
  if (!fields.has('jwks')) return undefined;
  const raw = fields.value('jwks') as { keys?: unknown };
  if (!raw || typeof raw !== 'object' || !Array.isArray(raw.keys) || raw.keys.length === 0) {
    throw new ConfigError(fields.at('jwks'), 'must be a JWK set: {"keys": [ ...public JWKs... ]}');
  }
  for (const [index, key] of raw.keys.entries()) {
    if (!key || typeof key !== 'object' || typeof (key as { kty?: unknown }).kty !== 'string') throw new ConfigError(`${fields.at('jwks')}.keys[${index}]`, 'must be a JWK with a kty');
    const secret = PRIVATE_JWK_MEMBERS.find((member) => member in key);
    if (secret) throw new ConfigError(`${fields.at('jwks')}.keys[${index}]`, `has the private member "${secret}": register the client's public keys only`);
  }
  return raw as { keys: Array<Record<string, unknown>> };
}

/** The identity fields of one client entry. */
export function parseClientIdentity(fields: Fields, providers: readonly IdentityProviderConfig[], hasApiKey: boolean): ClientIdentity {
  const identity: ClientIdentity = {
    identities: parseIdentities(fields, providers),
    certificates: parseCertificates(fields),
    jwks: parseJwks(fields),
    jwksUri: fields.has('jwks_uri') ? secureUrl(fields, 'jwks_uri') : undefined,
    subjectFrom: fields.optionalString('subject_from'),
    accessTokenFormat: fields.oneOf('access_token_format', ACCESS_TOKEN_FORMATS, 'jwt'),
  };
  if (identity.jwks && identity.jwksUri) throw new ConfigError(fields.at('jwks_uri'), 'give jwks or jwks_uri, not both');
  if (!hasApiKey && identity.identities.length === 0 && identity.certificates.length === 0 && !identity.jwks && !identity.jwksUri) {
    throw new ConfigError(fields.path, 'has no way to authenticate: give it api_key_sha256, identities, certificates, jwks or jwks_uri');
  }
  if (identity.subjectFrom && identity.identities.length === 0 && identity.certificates.length === 0) {
    throw new ConfigError(fields.at('subject_from'), 'binds the subject to a workload identity, so the client needs identities or certificates');
  }
  return identity;
}

/**
 * Two clients that one identity could match make the caller ambiguous: refused at start-up where
 * the patterns show it. Matchers of one provider overlap unless some claim both constrain is disjoint.
 */
export function checkIdentityOverlaps(clients: ReadonlyArray<{ name: string; identity: ClientIdentity }>): void {
  for (const [index, client] of clients.entries()) {
    for (const other of clients.slice(0, index)) {
      for (const [m, mine] of client.identity.identities.entries()) {
        for (const theirs of other.identity.identities) {
          if (mine.provider !== theirs.provider) continue;
          const shared = Object.keys(mine.claims).filter((claim) => claim in theirs.claims);
          if (shared.every((claim) => patternsOverlap(mine.claims[claim]!, theirs.claims[claim]!))) {
            throw new ConfigError(`clients[${index}].identities[${m}]`, `a token of provider "${mine.provider}" could match both client "${client.name}" and client "${other.name}"; narrow the claim patterns so each token matches one client`);
          }
        }
      }
      for (const [c, mine] of client.identity.certificates.entries()) {
        for (const theirs of other.identity.certificates) {
          if (mine.san === theirs.san && patternsOverlap(mine.pattern, theirs.pattern)) {
            throw new ConfigError(`clients[${index}].certificates[${c}]`, `a certificate with ${mine.san.toUpperCase()} SAN matching ${JSON.stringify(mine.pattern)} could also match client "${other.name}" (${JSON.stringify(theirs.pattern)}); narrow the patterns`);
          }
        }
      }
    }
  }
}
