// Policy patterns a security team can reason about: a table of what each pattern admits and
// refuses (through the client policy, as the API applies it), config errors for patterns with no
// clear meaning, and fast-check properties of the matcher over thousands of generated inputs.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { ClientConfig, RingConfig } from '../src/config-schema.js';
import { ConfigError, GatewayError } from '../src/errors.js';
import { compileAudiencePattern, compileTextPattern } from '../src/tokens/glob.js';
import { ClientPolicy } from '../src/tokens/policy.js';
import { configFrom, openClient } from './helpers/gateway.js';

const ring = { name: 'main', maxTokenTtlMs: 3600_000, defaultTokenTtlMs: 300_000 } as RingConfig;
const rings = new Map([['main', ring]]);

function policy(audiences: string[], subjects: string[] = []): ClientPolicy {
  const config: ClientConfig = { name: 'c', apiKeySha256: '0'.repeat(64), rings: ['main'], audiences, subjects, claims: [], maxTtlMs: 300_000, rateLimitPerSecond: 0, rateLimitBurst: 0 };
  return new ClientPolicy(config, rings);
}

/** The stable code the API would answer with, or 'ok'. */
function outcome(client: ClientPolicy, request: { audience: string; subject?: string }): string {
  try {
    client.authorise(request);
    return 'ok';
  } catch (error) {
    if (error instanceof GatewayError) return error.code;
    throw error;
  }
}

// [pattern, audience, admitted?]: the README's "Patterns" examples and the attacks on them.
const audienceTable: Array<[string, string, boolean]> = [
  ['https://*.example.com', 'https://a.example.com', true],
  ['https://*.example.com', 'https://a.example.com/', true],
  ['https://*.example.com', 'https://a.b.example.com', true],
  ['https://*.example.com', 'https://xn--bcher-kva.example.com', true],
  ['https://*.example.com', 'https://example.com', false],
  ['https://*.example.com', 'https://.example.com', false],
  ['https://*.example.com', 'https://evil.com/.example.com', false],
  ['https://*.example.com', 'https://user@evil.com/x.example.com', false],
  ['https://*.example.com', 'https://user:pw@a.example.com', false],
  ['https://*.example.com', 'https://evil.com?.example.com', false],
  ['https://*.example.com', 'https://evil.com#.example.com', false],
  ['https://*.example.com', 'https://a.example.com.evil.com', false],
  ['https://*.example.com', 'https://a.example.com:444', false],
  ['https://*.example.com', 'https://a.example.com:443', false], // not canonical: a parser drops :443
  ['https://*.example.com', 'http://a.example.com', false],
  ['https://*.example.com', 'https://a.example.com/path', false],
  ['https://*.example.com', 'https://a.example.com?x', false],
  ['https://*.example.com', 'https://A.example.com', false],
  ['https://*.example.com', 'https://a.example.com\\@evil.com', false],
  ['https://*.example.com', 'https:a.example.com', false],
  ['https://*.example.com', ' https://a.example.com', false],
  ['https://api.example.com/v1/*', 'https://api.example.com/v1/orders', true],
  ['https://api.example.com/v1/*', 'https://api.example.com/v1/orders%2Fadmin', true], // one segment, as written
  ['https://api.example.com/v1/*', 'https://api.example.com/v1/', false],
  ['https://api.example.com/v1/*', 'https://api.example.com/v1/a/b', false],
  ['https://api.example.com/v1/*', 'https://api.example.com/v1/a?b', false],
  ['https://api.example.com/v1/*', 'https://api.example.com/v1/a#b', false],
  ['https://api.example.com/v1/*', 'https://api.example.com/v1/a@b', false],
  ['https://api.example.com/v1/*', 'https://api.example.com/v1/a:b', false],
  ['https://api.example.com/v1/*', 'https://api.example.com/v1/a?', false], // an empty query is still a "?"
  ['https://api.example.com/v1/*', 'https://api.example.com/v1/a#', false],
  ['https://api.example.com/v1/*', 'https://api.example.com/v1/../admin', false],
  ['https://api.example.com/v1/*', 'https://api.example.com.evil.com/v1/a', false],
  ['https://api.example.com/v1/*/read', 'https://api.example.com/v1/orders/read', true],
  ['https://api.example.com/v1/*/read', 'https://api.example.com/v1/a/b/read', false],
  ['https://api.example.com', 'https://api.example.com', true],
  ['https://api.example.com', 'https://api.example.com/', true],
  ['https://api.example.com', 'https://api.example.com/x', false],
  ['https://api.example.com:8443/x', 'https://api.example.com:8443/x', true],
  ['https://api.example.com:8443/x', 'https://api.example.com/x', false],
  ['https://api.example.com/?tenant=*', 'https://api.example.com/?tenant=a', true],
  ['https://api.example.com/?tenant=*', 'https://api.example.com/?tenant=a&b:c', false],
  ['urn:svc:*', 'urn:svc:ledger', true],
  ['urn:svc:*', 'urn:svc:a:b', true], // text globs may cross ":"; only URL patterns may not
  ['urn:svc:*', 'urn:svc:', false],
  ['urn:svc:*', 'urn:svcX:a', false],
  ['urn:svc:*', 'xurn:svc:a', false],
  ['*', 'anything at all', true],
  ['*', 'https://user@evil.com', true], // "*" alone is an explicit "any audience"
  ['exact', 'exact', true],
  ['exact', 'exactly', false],
  ['a*b', 'ab', false],
  ['a*b', 'axb', true],
  ['a*b*c', 'abc', false],
  ['a*b*c', 'axbyc', true],
  ['.*', 'xx', false], // regex characters are literal
  ['.*', '.x', true],
];

const subjectTable: Array<[string, string, boolean]> = [
  ['user:*', 'user:42', true],
  ['user:*', 'user:', false],
  ['user:*', 'user:x\nsvc-admin', false],
  ['user:*', 'user:x\u0000', false],
  ['user:*', 'user:\u0085', false],
  ['user:*', 'user:é', true],
  ['user:*', 'svc:user:1', false],
  ['svc-*-reader', 'svc-orders-reader', true],
  ['svc-*-reader', 'svc--reader', false],
];

describe('policy patterns (table)', () => {
  it.each(audienceTable)('audience pattern %s: %s → %s', (pattern, audience, admitted) => {
    expect(outcome(policy([pattern]), { audience })).toEqual(admitted ? 'ok' : expect.stringMatching(/^ERR_(AUDIENCE_NOT_ALLOWED|INVALID_VALUE)$/));
  });

  it.each(subjectTable)('subject pattern %s: %j → %s', (pattern, subject, admitted) => {
    expect(outcome(policy(['*'], [pattern]), { audience: 'a', subject })).toEqual(admitted ? 'ok' : expect.stringMatching(/^ERR_(SUBJECT_NOT_ALLOWED|INVALID_VALUE)$/));
  });

  it.each([
    ['a wildcard inside a host label', 'https://a*.example.com'],
    ['a wildcard as the rightmost label', 'https://example.*'],
    ['a wildcard in the middle of the host', 'https://a.*.example.com'],
    ['a wildcard in the port', 'https://example.com:*/x'],
    ['user information', 'https://user@*.example.com'],
    ['a control character', 'urn:svc:\n*'],
    ['a URL that does not parse', 'https://exa mple.com/*'],
  ])('refuses an audience pattern with %s, naming the field', (_name, pattern) => {
    const base = { backends: { dev: { type: 'local', data_dir: '/tmp/x' } }, rings: [{ name: 'main', backend: 'dev', alg: 'ES256' }] };
    let error: unknown;
    try {
      configFrom({ ...base, clients: [{ ...openClient(), audiences: ['urn:ok', pattern] }] });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).field).toBe('clients[0].audiences[1]');
  });

  it('refuses a claim-name pattern other than "*"', () => {
    const base = { backends: { dev: { type: 'local', data_dir: '/tmp/x' } }, rings: [{ name: 'main', backend: 'dev', alg: 'ES256' }] };
    expect(() => configFrom({ ...base, clients: [{ ...openClient(), claims: ['scope*'] }] })).toThrow(/clients\[0\]\.claims\[0\]/);
  });
});

// ── properties ───────────────────────────────────────────────────────────────
// Not "xn--…": a URL parser decodes such a label as punycode and refuses most of them.
const label = fc.stringMatching(/^[a-z0-9]([a-z0-9-]{0,8}[a-z0-9])?$/).filter((text) => !text.startsWith('xn--'));
// The last label is alphabetic: a URL parser reads a host ending in a number as IPv4.
const domain = fc.tuple(fc.array(label, { maxLength: 2 }), fc.stringMatching(/^[a-z]{2,6}$/)).map(([labels, tld]) => [...labels, tld].join('.'));
const control = fc.constantFrom(...Array.from({ length: 32 }, (_, i) => String.fromCharCode(i)), '\u007f', ...Array.from({ length: 32 }, (_, i) => String.fromCharCode(0x80 + i)));
// Strings that look like attacks: URL delimiters, user info, dots and slashes mixed with letters.
const urlish = fc.array(fc.constantFrom('a', 'b', '.', '/', '?', '#', '@', ':', '\\', '%2F', '%40', ' ', 'example.com', 'evil.com', 'https://', 'x.'), { maxLength: 12 }).map((parts) => parts.join(''));
const RUNS = { numRuns: 2000 };
// eslint-disable-next-line no-control-regex -- these properties are about control characters
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\ud800-\udfff]/;
// eslint-disable-next-line no-control-regex -- as above
const NOT_IN_A_SEGMENT = /[/?#@:\u0000-\u001f\u007f-\u009f]/;

describe('policy patterns (properties)', () => {
  it('a host wildcard only ever admits URLs on that domain, with no user information, on the same scheme and port', () => {
    fc.assert(
      fc.property(domain, fc.oneof(urlish, fc.string(), domain.map((d) => `https://${d}`)), fc.oneof(urlish, fc.constant('')), (suffix, prefix, tail) => {
        const matches = compileAudiencePattern(`https://*.${suffix}`);
        const candidate = `${prefix}${tail}`;
        if (!matches(candidate)) return;
        const url = new URL(candidate);
        expect(url.protocol).toBe('https:');
        expect(url.username + url.password).toBe('');
        expect(url.port).toBe('');
        expect(url.hostname.endsWith(`.${suffix}`)).toBe(true);
        expect(url.pathname).toBe('/');
        expect(url.search + url.hash).toBe('');
      }),
      RUNS,
    );
  });

  it('a host wildcard admits every subdomain written canonically', () => {
    fc.assert(
      fc.property(domain, domain, (sub, suffix) => {
        expect(compileAudiencePattern(`https://*.${suffix}`)(`https://${sub}.${suffix}`)).toBe(true);
        expect(compileAudiencePattern(`https://*.${suffix}`)(`https://${suffix}`)).toBe(false);
      }),
      RUNS,
    );
  });

  it('a path "*" stands for exactly one non-empty segment free of / ? # @ :', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 0, maxLength: 12 }), (segment) => {
        const admitted = compileAudiencePattern('https://api.example.com/v1/*')(`https://api.example.com/v1/${segment}`);
        if (admitted) {
          expect(segment.length).toBeGreaterThan(0);
          expect(segment).not.toMatch(NOT_IN_A_SEGMENT);
        }
      }),
      RUNS,
    );
  });

  it('"*" matches at least one character: prefix + suffix alone never matches prefix*suffix', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 8 }).filter((s) => !s.includes('*')), fc.string({ maxLength: 8 }).filter((s) => !s.includes('*')), (prefix, suffix) => {
        fc.pre(!/^[A-Za-z][A-Za-z0-9+.-]*:\/\//.test(prefix) && !UNSAFE.test(prefix + suffix) && prefix + suffix !== '');
        expect(compileTextPattern(`${prefix}*${suffix}`)(`${prefix}${suffix}`)).toBe(false);
        expect(compileTextPattern(`${prefix}*${suffix}`)(`${prefix}x${suffix}`)).toBe(true);
      }),
      RUNS,
    );
  });

  it('no pattern ever admits a value with a control character', () => {
    fc.assert(
      fc.property(fc.constantFrom('*', 'user:*', 'urn:svc:*', '*-*', 'https://*.example.com', 'https://api.example.com/*'), fc.string({ maxLength: 6 }), control, fc.string({ maxLength: 6 }), (pattern, before, bad, after) => {
        const compile = pattern.startsWith('https://') ? compileAudiencePattern : compileTextPattern;
        const value = pattern.replace('*', `${before}${bad}${after}`);
        expect(compile(pattern)(value)).toBe(false);
        expect(outcome(policy([pattern], [pattern]), { audience: value })).not.toBe('ok');
      }),
      RUNS,
    );
  });

  it('a pattern without "*" admits only itself (and, for a URL, its trailing-slash twin)', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ minLength: 1, maxLength: 10 }), domain.map((d) => `https://${d}`)).filter((p) => !p.includes('*') && !UNSAFE.test(p)), fc.string({ maxLength: 12 }), (pattern, other) => {
        let compiled: (value: string) => boolean;
        try {
          compiled = compileAudiencePattern(pattern);
        } catch {
          return; // a pattern the config would refuse
        }
        if (compiled(other)) expect([pattern, `${pattern}/`, pattern.replace(/\/$/, '')]).toContain(other);
      }),
      RUNS,
    );
  });

  it('matching never throws, whatever the input', () => {
    const patterns = ['*', 'https://*.example.com', 'https://api.example.com/v1/*', 'urn:svc:*', 'spiffe://cluster.local/ns/*'].map(compileAudiencePattern);
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.string({ unit: 'binary' }), urlish), (value) => {
        for (const matches of patterns) expect(typeof matches(value)).toBe('boolean');
      }),
      RUNS,
    );
  });
});
