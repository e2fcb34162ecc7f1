// Hostile input across every route, table-driven: JSON edge cases, prototype keys at any depth,
// nesting, sizes ±1, encodings, header variants, ring and version traversal, policy-bypass
// attempts, wrong methods; then raw HTTP framing over a socket. Every answer is either the
// expected success or the documented error body with the expected status, never a 5xx; the
// process is healthy afterwards.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { gzipSync } from 'node:zlib';
import type { FastifyInstance } from 'fastify';
import { decodeJwt } from 'jose';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../src/app.js';
import { sha256Hex } from '../src/config/load.js';
import { DEFAULT_CLAIM_LIMITS } from '../src/tokens/claims.js';
import { configFrom, tempDir, TEST_ADMIN_KEY, TEST_API_KEY } from './helpers/gateway.js';
import { rawExchange } from './helpers/raw-http.js';

const NARROW_KEY = 'sgt_hostile-narrow-key-0123456789abcdefghijk';
const BODY_LIMIT = 16384;

interface Case {
  name: string;
  method?: string;
  url?: string;
  headers?: Record<string, string | string[]>;
  /** A string or bytes sent as is; anything else is sent as JSON. */
  payload?: unknown;
  status: number;
  /** Instead of `status`: any of these is right (URL normalisation decides which). */
  statuses?: number[];
  code?: string;
}

const json = { 'content-type': 'application/json' };
const wide = { authorization: `Bearer ${TEST_API_KEY}`, ...json };
const narrow = { authorization: `Bearer ${NARROW_KEY}`, ...json };
const admin = { authorization: `Bearer ${TEST_ADMIN_KEY}` };

const token = (name: string, payload: unknown, status: number, code?: string, headers: Record<string, string | string[]> = wide): Case => ({ name, method: 'POST', url: '/v1/tokens', headers, payload, status, code });
const nested = (depth: number, leaf: unknown = 1, wrap: (inner: unknown) => unknown = (inner) => ({ a: inner })): unknown => {
  let value = leaf;
  for (let i = 0; i < depth; i++) value = wrap(value);
  return value;
};

// ── JSON edge cases ──────────────────────────────────────────────────────────
const malformed: Array<[string, string]> = [
  ['an open brace', '{'],
  ['a missing value', '{"audience":}'],
  ['a trailing comma', '{"audience":"a",}'],
  ['single quotes', "{'audience':'a'}"],
  ['garbage after the object', '{"audience":"a"}x'],
  ['NaN', '{"audience":"a","ttl_seconds":NaN}'],
  ['Infinity', '{"audience":"a","ttl_seconds":Infinity}'],
  ['a bare word', 'audience'],
  ['an unterminated string', '{"audience":"a'],
  ['a raw newline in a string', '{"audience":"a\nb"}'],
  ['a bad escape', '{"audience":"\\x41"}'],
  ['a comment', '{"audience":"a"/* c */}'],
  ['hex numbers', '{"audience":"a","ttl_seconds":0x10}'],
  ['a leading zero', '{"audience":"a","ttl_seconds":010}'],
  ['only whitespace', '   '],
  ['an empty body', ''],
];
const jsonCases: Case[] = [
  ...malformed.map(([name, body]) => token(`malformed JSON: ${name}`, body, 400, 'ERR_MALFORMED_JSON')),
  ...['[]', '"audience"', '123', 'true', 'null', '[{"audience":"a"}]'].map((body) => token(`a body that is not an object: ${body}`, body, 400, 'ERR_INVALID_REQUEST')),
  token('a byte-order mark before the object (RFC 8259 allows ignoring it)', '\ufeff{"audience":"a"}', 200),
  token('an unknown top-level field names it', { audience: 'a', alg: 'none' }, 400, 'ERR_INVALID_REQUEST'),
  token('ttl_seconds 1e400 (Infinity)', '{"audience":"a","ttl_seconds":1e400}', 400, 'ERR_INVALID_VALUE'),
  token('ttl_seconds 12345678901234567890', '{"audience":"a","ttl_seconds":12345678901234567890}', 400, 'ERR_INVALID_VALUE'),
  token('ttl_seconds -1', { audience: 'a', ttl_seconds: -1 }, 400, 'ERR_INVALID_REQUEST'),
  token('ttl_seconds null', { audience: 'a', ttl_seconds: null }, 400, 'ERR_INVALID_REQUEST'),
  token('audience null', { audience: null }, 400, 'ERR_INVALID_REQUEST'),
  token('audience a number', { audience: 1 }, 400, 'ERR_INVALID_REQUEST'),
  token('audience an object', { audience: { a: 1 } }, 400, 'ERR_INVALID_REQUEST'),
  token('audience a nested list', { audience: [['a']] }, 400, 'ERR_INVALID_REQUEST'),
  token('17 audiences', { audience: Array.from({ length: 17 }, (_, i) => `a${i}`) }, 400, 'ERR_INVALID_REQUEST'),
  token('16 audiences', { audience: Array.from({ length: 16 }, (_, i) => `a${i}`) }, 200),
  token('an audience of 512 characters', { audience: 'a'.repeat(512) }, 200),
  token('an audience of 513 characters', { audience: 'a'.repeat(513) }, 400, 'ERR_INVALID_REQUEST'),
  token('a subject of 513 characters', { audience: 'a', subject: 's'.repeat(513) }, 400, 'ERR_INVALID_REQUEST'),
  token('an empty subject', { audience: 'a', subject: '' }, 400, 'ERR_INVALID_REQUEST'),
  token('claims null', { audience: 'a', claims: null }, 400, 'ERR_INVALID_REQUEST'),
  token('claims a string', { audience: 'a', claims: 'scope' }, 400, 'ERR_INVALID_REQUEST'),
  token('key with a slash', { audience: 'a', key: '../main' }, 400, 'ERR_INVALID_REQUEST'),
  token('key in upper case', { audience: 'a', key: 'MAIN' }, 400, 'ERR_INVALID_REQUEST'),
  token('key with a NUL', { audience: 'a', key: 'main\u0000' }, 400, 'ERR_INVALID_REQUEST'),
  token('key that is not a ring', { audience: 'a', key: 'ghost' }, 404, 'ERR_UNKNOWN_RING'),
];

// ── numbers that would change on the way into the token ──────────────────────
const numberCases: Case[] = [
  ...['1e400', '-1e400', '12345678901234567890', '-12345678901234567890', '9007199254740992', '1e300', '-0', '-0.0'].map((literal) => token(`claim value ${literal}`, `{"audience":"a","claims":{"n":${literal}}}`, 400, 'ERR_INVALID_VALUE')),
  ...['1e400', '12345678901234567890'].map((literal) => token(`nested claim value ${literal}`, `{"audience":"a","claims":{"n":{"m":[${literal}]}}}`, 400, 'ERR_INVALID_VALUE')),
  ...['1e-400', '-1e-400', '1.00000000000000001', '0.30000000000000000001', '123456789012345678e-2', '4.9e-325'].map((literal) => token(`claim value ${literal} (a double would change it)`, `{"audience":"a","claims":{"n":${literal}}}`, 400, 'ERR_INVALID_VALUE')),
  token('ttl_seconds 300.0000000000000001 (a double would make it 300)', '{"audience":"a","ttl_seconds":300.0000000000000001}', 400, 'ERR_INVALID_VALUE'),
  token('a number-like string is not a number', '{"audience":"a","claims":{"s":"1e-400","t":"1.00000000000000001"}}', 200),
  ...['9007199254740991', '-9007199254740991', '0', '1.5', '0.1', '1e-7', '3.141592653589793', '1.50', '1E2', '5e-324', '1.5e-300', '0.30000000000000004'].map((literal) => token(`claim value ${literal} is kept`, `{"audience":"a","claims":{"n":${literal}}}`, 200)),
];

// ── prototype keys at any depth ──────────────────────────────────────────────
const protoCases: Case[] = [
  token('__proto__ at the top level', '{"audience":"a","__proto__":{"admin":true}}', 400, 'ERR_INVALID_VALUE'),
  token('constructor.prototype at the top level', '{"audience":"a","constructor":{"prototype":{"admin":true}}}', 400, 'ERR_INVALID_VALUE'),
  ...[1, 2, 3, 5, 7].flatMap((depth) => [
    token(`__proto__ as a claim at depth ${depth}`, `{"audience":"a","claims":${'{"x":'.repeat(depth - 1)}{"__proto__":{"admin":true}}${'}'.repeat(depth - 1)}}`, 400, 'ERR_INVALID_VALUE'),
    token(`constructor.prototype in claims at depth ${depth}`, `{"audience":"a","claims":${'{"x":'.repeat(depth - 1)}{"constructor":{"prototype":{"admin":true}}}${'}'.repeat(depth - 1)}}`, 400, 'ERR_INVALID_VALUE'),
    token(`__proto__ inside an array at depth ${depth}`, `{"audience":"a","claims":{"l":[${'['.repeat(depth - 1)}{"__proto__":1}${']'.repeat(depth - 1)}]}}`, 400, 'ERR_INVALID_VALUE'),
  ]),
  token('a claim named constructor (a plain name) is signed', { audience: 'a', claims: { constructor: 'x' } }, 200),
  token('a claim named prototype is signed', { audience: 'a', claims: { prototype: 'x' } }, 200),
];

// ── nesting, members and sizes, each at the limit and one past it ───────────
const { maxDepth, maxMembers, maxBytes } = DEFAULT_CLAIM_LIMITS;
const members = (count: number) => Object.fromEntries(Array.from({ length: count }, (_, i) => [`m${i}`, i]));
// `claims` whose JSON encoding is exactly `bytes` long: {"p":"xxx…"} has 8 bytes of framing.
const claimsOfBytes = (bytes: number) => ({ p: 'x'.repeat(bytes - 8) });
// A whole request body of exactly `bytes`, padded with JSON whitespace.
const bodyOfBytes = (bytes: number) => {
  const body = JSON.stringify({ audience: 'a' });
  return body.slice(0, -1) + ' '.repeat(bytes - body.length) + '}';
};
const limitCases: Case[] = [
  // nested(d) is d objects deep; {l: arrays(k)} is 1 + k deep.
  ...Array.from({ length: maxDepth }, (_, i) => token(`claims nested ${i + 1} deep (objects)`, { audience: 'a', claims: nested(i + 1) }, 200)),
  ...Array.from({ length: maxDepth - 1 }, (_, i) => token(`claims nested ${i + 2} deep (arrays)`, { audience: 'a', claims: { l: nested(i + 1, 1, (inner) => [inner]) } }, 200)),
  token(`claims nested ${maxDepth + 1} deep (objects)`, { audience: 'a', claims: nested(maxDepth + 1) }, 400, 'ERR_CLAIMS_LIMIT'),
  token(`claims nested ${maxDepth + 1} deep (arrays)`, { audience: 'a', claims: { l: nested(maxDepth, 1, (inner) => [inner]) } }, 400, 'ERR_CLAIMS_LIMIT'),
  ...[50, 500, 2700].map((depth) => token(`claims nested ${depth} deep (objects)`, { audience: 'a', claims: nested(depth) }, 400, 'ERR_CLAIMS_LIMIT')),
  token('claims nested 4100 deep (arrays, fits the body limit)', `{"audience":"a","claims":{"l":${'['.repeat(4100)}${']'.repeat(4100)}}}`, 400, 'ERR_CLAIMS_LIMIT'),
  token('a body nested 8000 deep outside claims', `{"audience":${'['.repeat(8000)}${']'.repeat(8000)}}`, 400, 'ERR_INVALID_REQUEST'),
  token(`${maxMembers} claims`, { audience: 'a', claims: members(maxMembers) }, 200),
  token(`${maxMembers + 1} claims`, { audience: 'a', claims: members(maxMembers + 1) }, 400, 'ERR_CLAIMS_LIMIT'),
  token(`a nested object of ${maxMembers} members`, { audience: 'a', claims: { o: members(maxMembers) } }, 200),
  token(`a nested object of ${maxMembers + 1} members`, { audience: 'a', claims: { o: members(maxMembers + 1) } }, 400, 'ERR_CLAIMS_LIMIT'),
  token(`an array of ${maxMembers} items`, { audience: 'a', claims: { l: Array.from({ length: maxMembers }, () => 0) } }, 200),
  token(`an array of ${maxMembers + 1} items`, { audience: 'a', claims: { l: Array.from({ length: maxMembers + 1 }, () => 0) } }, 400, 'ERR_CLAIMS_LIMIT'),
  token(`claims of ${maxBytes} bytes`, { audience: 'a', claims: claimsOfBytes(maxBytes) }, 200),
  token(`claims of ${maxBytes + 1} bytes`, { audience: 'a', claims: claimsOfBytes(maxBytes + 1) }, 400, 'ERR_CLAIMS_LIMIT'),
  token(`claims of ${maxBytes} bytes counted in UTF-8, not characters`, { audience: 'a', claims: { p: 'é'.repeat((maxBytes - 8) / 2 + 1) } }, 400, 'ERR_CLAIMS_LIMIT'),
  token(`a body of ${BODY_LIMIT} bytes`, bodyOfBytes(BODY_LIMIT), 200),
  token(`a body of ${BODY_LIMIT + 1} bytes`, bodyOfBytes(BODY_LIMIT + 1), 413, 'ERR_PAYLOAD_TOO_LARGE'),
  token('a body of 1 MiB', bodyOfBytes(1024 * 1024), 413, 'ERR_PAYLOAD_TOO_LARGE'),
];

// ── names and strings that are signed or matched ─────────────────────────────
const unsafeChars: Array<[string, string]> = [
  ['NUL', '\u0000'],
  ['SOH', '\u0001'],
  ['TAB', '\t'],
  ['LF', '\n'],
  ['CR', '\r'],
  ['ESC', '\u001b'],
  ['US', '\u001f'],
  ['DEL', '\u007f'],
  ['PAD (C1)', '\u0080'],
  ['NEL (C1)', '\u0085'],
  ['APC (C1)', '\u009f'],
  ['a lone high surrogate', '\ud800'],
  ['a lone low surrogate', '\udfff'],
  ['a reversed surrogate pair', '\udc00\ud800'],
];
const places: Array<[string, (bad: string) => unknown]> = [
  ['the audience', (bad) => ({ audience: `urn:a${bad}b` })],
  ['an audience in a list', (bad) => ({ audience: ['ok', `urn:a${bad}`] })],
  ['the subject', (bad) => ({ audience: 'a', subject: `user:x${bad}svc-admin` })],
  ['a claim name', (bad) => ({ audience: 'a', claims: { [`sc${bad}ope`]: 'x' } })],
  ['a claim value', (bad) => ({ audience: 'a', claims: { scope: `read${bad}` } })],
  ['a nested claim name', (bad) => ({ audience: 'a', claims: { o: { [`k${bad}`]: 1 } } })],
  ['a string in a claim array', (bad) => ({ audience: 'a', claims: { l: ['ok', `x${bad}`] } })],
];
const textCases: Case[] = [
  ...unsafeChars.flatMap(([char, bad]) => places.map(([place, body]) => token(`${char} in ${place}`, JSON.stringify(body(bad)), 400, 'ERR_INVALID_VALUE'))),
  ...['é', '😀', '\u00a0', '\u200b', 'ß', '中文'].map((ok) => token(`${JSON.stringify(ok)} is signed as sent`, { audience: `urn:${ok}`, subject: `s${ok}`, claims: { [`c${ok}`]: ok } }, 200)),
];

// ── invalid UTF-8 and encodings ──────────────────────────────────────────────
const utf8Cases: Case[] = (
  [
    ['a 0xFF byte', [0xff]],
    ['an overlong NUL (C0 80)', [0xc0, 0x80]],
    ['a surrogate encoded in UTF-8 (ED A0 80)', [0xed, 0xa0, 0x80]],
    ['a truncated sequence (E2 82)', [0xe2, 0x82]],
    ['a lone continuation byte (80)', [0x80]],
    ['a code point past U+10FFFF (F4 90 80 80)', [0xf4, 0x90, 0x80, 0x80]],
  ] as Array<[string, number[]]>
).map(([name, bytes]) => token(`invalid UTF-8 in a string: ${name}`, Buffer.concat([Buffer.from('{"audience":"a'), Buffer.from(bytes), Buffer.from('"}')]), 400, 'ERR_MALFORMED_JSON'));
const body = JSON.stringify({ audience: 'a' });
const encodingCases: Case[] = [
  ...['application/json', 'application/json; charset=utf-8', 'application/json;charset=UTF-8', 'application/json; charset="utf-8"', 'APPLICATION/JSON'].map((type) =>
    token(`Content-Type ${type}`, body, 200, undefined, { ...wide, 'content-type': type }),
  ),
  ...['latin1', 'iso-8859-1', 'utf-16', 'utf-16le', 'utf-32', 'us-ascii', 'utf8', 'windows-1252'].map((charset) =>
    token(`charset=${charset}`, charset.startsWith('utf-16') ? Buffer.from(body, 'utf16le') : body, 415, 'ERR_UNSUPPORTED_MEDIA_TYPE', { ...wide, 'content-type': `application/json; charset=${charset}` }),
  ),
  ...['gzip', 'deflate', 'br', 'identity', 'x-custom'].map((encoding) =>
    token(`Content-Encoding: ${encoding}`, encoding === 'gzip' ? gzipSync(body) : body, 415, 'ERR_UNSUPPORTED_MEDIA_TYPE', { ...wide, 'content-encoding': encoding }),
  ),
  ...['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/json-patch+json', 'application/jsonx', 'text/json', ';;;'].map((type) =>
    token(`Content-Type ${type}`, body, 415, 'ERR_UNSUPPORTED_MEDIA_TYPE', { ...wide, 'content-type': type }),
  ),
  token('no Content-Type with a body', body, 415, 'ERR_UNSUPPORTED_MEDIA_TYPE', { authorization: wide.authorization }),
  token('two Content-Types', body, 400, 'ERR_MALFORMED_HTTP', { ...wide, 'content-type': ['application/json', 'text/plain'] }),
];

// ── Authorization header variants ────────────────────────────────────────────
const authCases: Case[] = [
  ...['Bearer', 'bearer', 'BEARER', 'bEaReR'].map((scheme) => token(`scheme "${scheme}" (case-insensitive, RFC 9110 §11.1)`, body, 200, undefined, { ...json, authorization: `${scheme} ${TEST_API_KEY}` })),
  token('two spaces after the scheme', body, 200, undefined, { ...json, authorization: `Bearer  ${TEST_API_KEY}` }),
  ...(
    [
      ['no Authorization', undefined],
      ['an empty Authorization', ''],
      ['the scheme alone', 'Bearer'],
      ['the scheme and a space', 'Bearer '],
      ['no space', `Bearer${TEST_API_KEY}`],
      ['a tab instead of a space', `Bearer\t${TEST_API_KEY}`],
      ['Basic', `Basic ${Buffer.from(`x:${TEST_API_KEY}`).toString('base64')}`],
      ['a trailing word', `Bearer ${TEST_API_KEY} extra`],
      ['an unknown key', 'Bearer sgt_unknown'],
      ['the admin key', `Bearer ${TEST_ADMIN_KEY}`],
      ['a key of 600 characters', `Bearer ${'k'.repeat(600)}`],
      ['a non-ASCII key', 'Bearer sgt_ключ'],
      ['the key in a different case', `Bearer ${TEST_API_KEY.toUpperCase()}`],
    ] as Array<[string, string | undefined]>
  ).map(([name, value]) => token(`Authorization: ${name}`, body, 401, 'ERR_UNAUTHENTICATED', value === undefined ? json : { ...json, authorization: value })),
  token('two Authorization headers, both valid', body, 400, 'ERR_MALFORMED_HTTP', { ...json, authorization: [`Bearer ${TEST_API_KEY}`, `Bearer ${TEST_API_KEY}`] }),
  token('two Authorization headers, the first one valid', body, 400, 'ERR_MALFORMED_HTTP', { ...json, authorization: [`Bearer ${TEST_API_KEY}`, 'Bearer sgt_other'] }),
  token('two Authorization headers, the second one valid', body, 400, 'ERR_MALFORMED_HTTP', { ...json, authorization: ['Bearer sgt_other', `Bearer ${TEST_API_KEY}`] }),
  { name: 'two Host headers', method: 'GET', url: '/healthz', headers: { host: ['a.example', 'b.example'] }, status: 400, code: 'ERR_MALFORMED_HTTP' },
];

// ── policy-bypass attempts by a narrow client ────────────────────────────────
// audiences: https://*.example.com, https://api.example.com/v1/*, urn:svc:*; subjects: user:*; claims: scope, tenant
const bypass: Array<[string, Record<string, unknown>, number, string?]> = [
  ['a path that ends in the allowed host', { audience: 'https://evil.com/.example.com' }, 403, 'ERR_AUDIENCE_NOT_ALLOWED'],
  ['user information before an evil host', { audience: 'https://user@evil.com/x.example.com' }, 403, 'ERR_AUDIENCE_NOT_ALLOWED'],
  ['user information before an allowed host', { audience: 'https://user@a.example.com' }, 403, 'ERR_AUDIENCE_NOT_ALLOWED'],
  ['a fragment that ends in the allowed host', { audience: 'https://evil.com#.example.com' }, 403, 'ERR_AUDIENCE_NOT_ALLOWED'],
  ['a query that ends in the allowed host', { audience: 'https://evil.com?.example.com' }, 403, 'ERR_AUDIENCE_NOT_ALLOWED'],
  ['the allowed suffix followed by another domain', { audience: 'https://a.example.com.evil.com' }, 403, 'ERR_AUDIENCE_NOT_ALLOWED'],
  ['the bare parent domain (* is at least one label)', { audience: 'https://example.com' }, 403, 'ERR_AUDIENCE_NOT_ALLOWED'],
  ['an empty leftmost label', { audience: 'https://.example.com' }, 403, 'ERR_AUDIENCE_NOT_ALLOWED'],
  ['another port', { audience: 'https://a.example.com:8443' }, 403, 'ERR_AUDIENCE_NOT_ALLOWED'],
  ['another scheme', { audience: 'http://a.example.com' }, 403, 'ERR_AUDIENCE_NOT_ALLOWED'],
  ['a backslash (parsers disagree about it)', { audience: 'https://a.example.com\\@evil.com' }, 403, 'ERR_AUDIENCE_NOT_ALLOWED'],
  ['an upper-case host (not canonical)', { audience: 'https://A.EXAMPLE.COM' }, 403, 'ERR_AUDIENCE_NOT_ALLOWED'],
  ['a path on a host pattern without a path', { audience: 'https://a.example.com/admin' }, 403, 'ERR_AUDIENCE_NOT_ALLOWED'],
  ['a path glob crossing "/"', { audience: 'https://api.example.com/v1/orders/admin' }, 403, 'ERR_AUDIENCE_NOT_ALLOWED'],
  ['a path glob crossing "?"', { audience: 'https://api.example.com/v1/orders?x=1' }, 403, 'ERR_AUDIENCE_NOT_ALLOWED'],
  ['a path glob crossing "#"', { audience: 'https://api.example.com/v1/orders#x' }, 403, 'ERR_AUDIENCE_NOT_ALLOWED'],
  ['a path glob crossing "@"', { audience: 'https://api.example.com/v1/a@b' }, 403, 'ERR_AUDIENCE_NOT_ALLOWED'],
  ['a path glob crossing ":"', { audience: 'https://api.example.com/v1/a:b' }, 403, 'ERR_AUDIENCE_NOT_ALLOWED'],
  ['a path glob matching nothing', { audience: 'https://api.example.com/v1/' }, 403, 'ERR_AUDIENCE_NOT_ALLOWED'],
  ['a dot-segment path', { audience: 'https://api.example.com/v1/../admin' }, 403, 'ERR_AUDIENCE_NOT_ALLOWED'],
  ['a URN glob matching nothing', { audience: 'urn:svc:' }, 403, 'ERR_AUDIENCE_NOT_ALLOWED'],
  ['a URN with a newline', { audience: 'urn:svc:x\nsvc-admin' }, 400, 'ERR_INVALID_VALUE'],
  ['a different URN namespace', { audience: 'urn:svcX:a' }, 403, 'ERR_AUDIENCE_NOT_ALLOWED'],
  ['a webhook event audience', { audience: 'urn:signet:webhook:https://hooks.example.com' }, 403, 'ERR_AUDIENCE_RESERVED'],
  ['the canary audience', { audience: 'urn:signet:canary' }, 403, 'ERR_AUDIENCE_RESERVED'],
  ['a subject glob matching nothing', { audience: 'urn:svc:a', subject: 'user:' }, 403, 'ERR_SUBJECT_NOT_ALLOWED'],
  ['a subject with a newline', { audience: 'urn:svc:a', subject: 'user:x\nsvc-admin' }, 400, 'ERR_INVALID_VALUE'],
  ['a subject outside the glob', { audience: 'urn:svc:a', subject: 'svc-admin' }, 403, 'ERR_SUBJECT_NOT_ALLOWED'],
  ['a claim name in another case', { audience: 'urn:svc:a', claims: { Scope: 'x' } }, 403, 'ERR_CLAIM_NOT_ALLOWED'],
  ['a claim name with a trailing space', { audience: 'urn:svc:a', claims: { 'scope ': 'x' } }, 403, 'ERR_CLAIM_NOT_ALLOWED'],
  ['a reserved claim (iss)', { audience: 'urn:svc:a', claims: { iss: 'x' } }, 400, 'ERR_RESERVED_CLAIM'],
  ['a reserved claim (exp)', { audience: 'urn:svc:a', claims: { exp: 99999999999 } }, 400, 'ERR_RESERVED_CLAIM'],
  ['a reserved claim (cnf)', { audience: 'urn:svc:a', claims: { cnf: {} } }, 400, 'ERR_RESERVED_CLAIM'],
  ['a ring outside the policy', { audience: 'urn:svc:a', key: 'other' }, 403, 'ERR_RING_NOT_ALLOWED'],
  ['a TTL over the client maximum', { audience: 'urn:svc:a', ttl_seconds: 301 }, 400, 'ERR_TTL_TOO_LONG'],
  ['a host glob: one label', { audience: 'https://a.example.com' }, 200],
  ['a host glob: two labels, trailing slash', { audience: 'https://a.b.example.com/' }, 200],
  ['a path glob: one segment', { audience: 'https://api.example.com/v1/orders' }, 200],
  ['a URN glob', { audience: 'urn:svc:ledger' }, 200],
  ['a subject glob', { audience: 'urn:svc:a', subject: 'user:42', claims: { scope: 'read' } }, 200],
];
const bypassCases: Case[] = bypass.map(([name, payload, status, code]) => token(`narrow client: ${name}`, payload, status, code, narrow));
const reservedForWide: Case[] = ['urn:signet:webhook:https://hooks.example.com/signet', 'URN:SIGNET:webhook:x', 'urn:signet:canary'].map((audience) =>
  token(`wide client: reserved audience ${audience}`, { audience }, 403, 'ERR_AUDIENCE_RESERVED'),
);

// ── ring and version traversal ───────────────────────────────────────────────
const badRings = ['..%2f..%2fv1', '%2F', 'MAIN', 'main%20', 'main%00', '%ZZ', 'a'.repeat(65), 'a'.repeat(101), '-main', '%C0%AE%C0%AE', 'main;x', '*', '%2a'];
const RING_PATHS = ['/rings/RING/.well-known/jwks.json', '/rings/RING/.well-known/openid-configuration', '/v1/admin/rings/RING'];
const ringCase = (ring: string, path: string, statuses: number[]): Case => ({ name: `ring "${ring}" in ${path}`, method: 'GET', url: path.replace('RING', ring), headers: admin, status: 0, statuses });
const ringCases: Case[] = badRings.flatMap((ring) => RING_PATHS.map((path) => ringCase(ring, path, [400, 404])));
// `..` is resolved by URL normalisation: /rings/../.well-known/jwks.json is the root document.
const dotRingCases: Case[] = ['..', '%2e%2e', '.%2e'].flatMap((ring) => RING_PATHS.map((path) => ringCase(ring, path, path.startsWith('/rings') ? [200, 400, 404] : [400, 404])));
const badVersions = ['0', '-1', '01', '1.0', '1e3', '99999999999', '%2e%2e', '1%2f..%2f2', '%201', '0x1', 'one', '１'];
const versionCases: Case[] = badVersions.map((version) => ({ name: `version "${version}"`, method: 'POST', url: `/v1/admin/rings/main/versions/${version}/revoke`, headers: admin, status: 0, statuses: [400, 404] }));

// ── admin input ──────────────────────────────────────────────────────────────
const adminCases: Case[] = [
  { name: 'admin: no key', method: 'GET', url: '/v1/admin/rings', status: 401, code: 'ERR_UNAUTHENTICATED' },
  { name: "admin: a client's key", method: 'GET', url: '/v1/admin/rings', headers: { authorization: `Bearer ${TEST_API_KEY}` }, status: 401, code: 'ERR_UNAUTHENTICATED' },
  { name: 'admin: lower-case scheme', method: 'GET', url: '/v1/admin/rings', headers: { authorization: `bearer ${TEST_ADMIN_KEY}` }, status: 200 },
  { name: 'admin: unknown ring', method: 'GET', url: '/v1/admin/rings/ghost', headers: admin, status: 404, code: 'ERR_UNKNOWN_RING' },
  { name: 'admin: revoke an unknown version', method: 'POST', url: '/v1/admin/rings/main/versions/999/revoke', headers: { ...admin, ...json }, payload: {}, status: 404, code: 'ERR_UNKNOWN_VERSION' },
  { name: 'admin: revoke with an unknown field', method: 'POST', url: '/v1/admin/rings/main/versions/999/revoke', headers: { ...admin, ...json }, payload: { reason: 'x', force: true }, status: 400, code: 'ERR_INVALID_REQUEST' },
  { name: 'admin: revoke with a reason that is not a string', method: 'POST', url: '/v1/admin/rings/main/versions/999/revoke', headers: { ...admin, ...json }, payload: { reason: 1 }, status: 400, code: 'ERR_INVALID_REQUEST' },
  { name: 'admin: revoke with a reason of 501 characters', method: 'POST', url: '/v1/admin/rings/main/versions/999/revoke', headers: { ...admin, ...json }, payload: { reason: 'r'.repeat(501) }, status: 400, code: 'ERR_INVALID_REQUEST' },
  { name: 'admin: revoke with a control character in the reason', method: 'POST', url: '/v1/admin/rings/main/versions/999/revoke', headers: { ...admin, ...json }, payload: { reason: 'a\u001b[31mb' }, status: 400, code: 'ERR_INVALID_VALUE' },
  { name: 'admin: revoke with a body that is an array', method: 'POST', url: '/v1/admin/rings/main/versions/999/revoke', headers: { ...admin, ...json }, payload: '[]', status: 400, code: 'ERR_INVALID_REQUEST' },
  { name: 'admin: rotate an unknown ring', method: 'POST', url: '/v1/admin/rings/ghost/rotate', headers: admin, status: 404, code: 'ERR_UNKNOWN_RING' },
];

// ── wrong methods and unknown paths ──────────────────────────────────────────
const routes: Array<[string, string[]]> = [
  ['/v1/tokens', ['POST']],
  ['/.well-known/jwks.json', ['GET', 'HEAD', 'OPTIONS']],
  ['/rings/main/.well-known/jwks.json', ['GET', 'HEAD', 'OPTIONS']],
  ['/.well-known/openid-configuration', ['GET', 'HEAD', 'OPTIONS']],
  ['/healthz', ['GET', 'HEAD']],
  ['/readyz', ['GET', 'HEAD']],
  ['/metrics', ['GET', 'HEAD']],
  ['/openapi.json', ['GET', 'HEAD']],
  ['/v1/admin/rings', ['GET', 'HEAD']],
  ['/v1/admin/rings/main/rotate', ['POST']],
];
const methodCases: Case[] = routes.flatMap(([url, allowed]) =>
  ['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS']
    .filter((method) => !allowed.includes(method))
    .map((method) => ({ name: `${method} ${url}`, method, url, headers: url.startsWith('/v1/admin') ? admin : {}, status: 405, code: 'ERR_METHOD_NOT_ALLOWED' })),
);
const unknownPaths = ['/', '/v1', '/v1/token', '/v1/tokens/', '/.well-known/', '/.well-known/jwks', '/rings/main', '/rings/main/.well-known/', '/v2/tokens', '/v1/admin', '/etc/passwd', '/%2e%2e/%2e%2e/etc/passwd', '/healthz/..', '/' + 'x'.repeat(4000)];
const notFoundCases: Case[] = unknownPaths.map((url) => ({ name: `GET ${url.slice(0, 40)}`, method: 'GET', url, headers: admin, status: 404, code: 'ERR_NOT_FOUND' }));

// ── the OAuth token endpoint: its own error body (RFC 6749 §5.2), the same HTTP rules ──
const form = { 'content-type': 'application/x-www-form-urlencoded' };
const basic = (id: string, secret: string): string => `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;
const client = { ...form, authorization: basic('wide', TEST_API_KEY) };
const grant = 'grant_type=client_credentials&audience=a';
const oauth = (name: string, payload: string | Buffer | undefined, status: number, error?: string, headers: Record<string, string | string[]> = client, method = 'POST'): Case => ({ name: `oauth: ${name}`, method, url: '/oauth2/token', headers, payload, status, code: error });
const oauthCases: Case[] = [
  oauth('client_secret_basic', grant, 200),
  oauth('client_secret_post', `${grant}&client_id=wide&client_secret=${encodeURIComponent(TEST_API_KEY)}`, 200, undefined, form),
  ...['application/x-www-form-urlencoded; charset=utf-8', 'application/x-www-form-urlencoded;charset=UTF-8', 'APPLICATION/X-WWW-FORM-URLENCODED'].map((type) => oauth(`Content-Type ${type}`, grant, 200, undefined, { ...client, 'content-type': type })),
  ...['latin1', 'iso-8859-1', 'utf-16', 'windows-1252', 'utf8'].map((charset) =>
    oauth(`charset=${charset}`, charset === 'utf-16' ? Buffer.from(grant, 'utf16le') : grant, 415, 'invalid_request', { ...client, 'content-type': `application/x-www-form-urlencoded; charset=${charset}` }),
  ),
  ...['gzip', 'deflate', 'identity', 'br'].map((encoding) => oauth(`Content-Encoding: ${encoding}`, encoding === 'gzip' ? gzipSync(grant) : grant, 415, 'invalid_request', { ...client, 'content-encoding': encoding })),
  oauth('invalid UTF-8 in the form', Buffer.concat([Buffer.from(`${grant}&scope=`), Buffer.from([0xc3, 0x28])]), 400, 'invalid_request'),
  oauth('a JSON body', JSON.stringify({ grant_type: 'client_credentials', audience: 'a' }), 415, 'invalid_request', { ...client, 'content-type': 'application/json' }),
  oauth('no body', undefined, 400, 'invalid_request', { authorization: client.authorization }),
  oauth('an empty form', '', 400, 'invalid_request'),
  oauth('no grant_type', 'audience=a', 400, 'invalid_request'),
  oauth('grant_type twice', `${grant}&grant_type=client_credentials`, 400, 'invalid_request'),
  oauth('an unknown grant_type', 'grant_type=password&username=a&password=b', 400, 'unsupported_grant_type'),
  oauth('the authorization_code grant', 'grant_type=authorization_code&code=x', 400, 'unsupported_grant_type'),
  oauth('no client authentication', grant, 401, 'invalid_client', form),
  oauth('a wrong secret', grant, 401, 'invalid_client', { ...form, authorization: basic('wide', 'sgt_wrong-secret-wrong-secret-wrong-secret-x') }),
  oauth('an unknown client_id', grant, 401, 'invalid_client', { ...form, authorization: basic('nobody', TEST_API_KEY) }),
  oauth('Basic that is not base64 of id:secret', grant, 401, 'invalid_client', { ...form, authorization: 'Basic !!!' }),
  oauth('Basic without a colon', grant, 401, 'invalid_client', { ...form, authorization: `Basic ${Buffer.from('wide').toString('base64')}` }),
  oauth('two client authentication methods', `${grant}&client_id=wide&client_secret=${encodeURIComponent(TEST_API_KEY)}`, 400, 'invalid_request'),
  oauth('two Authorization headers', grant, 400, 'invalid_request', { ...form, authorization: [client.authorization, client.authorization] }),
  oauth('a body over the limit', `${grant}&x=${'a'.repeat(BODY_LIMIT)}`, 413, 'invalid_request'),
  oauth('__proto__ as a parameter name', `${grant}&__proto__=x&constructor=y`, 200),
  oauth('an audience with a control character', 'grant_type=client_credentials&audience=a%01b', 400, 'invalid_request'),
  oauth('an audience with a lone surrogate', 'grant_type=client_credentials&audience=a%ED%A0%80', 400, 'invalid_request'),
  oauth('an audience with a truncated UTF-8 sequence', 'grant_type=client_credentials&audience=a%E2%82', 400, 'invalid_request'),
  oauth('a stray percent sign', 'grant_type=client_credentials&audience=a%zz', 400, 'invalid_request'),
  oauth('plus signs as spaces, and a value with =', 'grant_type=client_credentials&audience=a&scope=read+write=x', 200),
  oauth('a resource with a fragment', 'grant_type=client_credentials&resource=https%3A%2F%2Fapi.example.com%2F%23x', 400, 'invalid_target'),
  oauth('a relative resource', 'grant_type=client_credentials&resource=%2Fapi', 400, 'invalid_target'),
  oauth('neither audience nor resource', 'grant_type=client_credentials', 400, 'invalid_request'),
  oauth('an audience the narrow client may not ask for', 'grant_type=client_credentials&audience=https%3A%2F%2Fevil.com%2F.example.com', 400, 'invalid_target', { ...form, authorization: basic('narrow', NARROW_KEY) }),
  oauth('a scope the narrow client may not ask for', 'grant_type=client_credentials&audience=urn%3Asvc%3Aa&scope=admin%0Aroot', 400, 'invalid_scope', { ...form, authorization: basic('narrow', NARROW_KEY) }),
  oauth('token exchange without subject_token', 'grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Atoken-exchange&audience=a', 400, 'invalid_request'),
  oauth('token exchange with a subject_token that is not a JWT', 'grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Atoken-exchange&audience=a&subject_token=x&subject_token_type=urn%3Aietf%3Aparams%3Aoauth%3Atoken-type%3Ajwt', 400, 'invalid_request', form),
  oauth('an unsupported subject_token_type', 'grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Atoken-exchange&audience=a&subject_token=x&subject_token_type=urn%3Aietf%3Aparams%3Aoauth%3Atoken-type%3Aaccess_token', 400, 'invalid_request'),
  oauth('a client_assertion that is not a JWT', 'grant_type=client_credentials&audience=a&client_id=wide&client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer&client_assertion=x', 401, 'invalid_client', form),
];
const oauthMethodCases: Case[] = [
  ...['GET', 'PUT', 'DELETE', 'PATCH'].map((method) => ({ name: `oauth: ${method} /oauth2/token`, method, url: '/oauth2/token', headers: {}, status: 405, code: 'ERR_METHOD_NOT_ALLOWED' })),
  { name: 'oauth: GET /.well-known/oauth-authorization-server', method: 'GET', url: '/.well-known/oauth-authorization-server', headers: {}, status: 200 },
  { name: 'oauth: POST /.well-known/oauth-authorization-server', method: 'POST', url: '/.well-known/oauth-authorization-server', headers: json, payload: '{}', status: 405, code: 'ERR_METHOD_NOT_ALLOWED' },
];

const cases: Case[] = [
  ...jsonCases,
  ...numberCases,
  ...protoCases,
  ...limitCases,
  ...textCases,
  ...utf8Cases,
  ...encodingCases,
  ...authCases,
  ...bypassCases,
  ...reservedForWide,
  ...ringCases,
  ...dotRingCases,
  ...versionCases,
  ...adminCases,
  ...methodCases,
  ...notFoundCases,
  ...oauthMethodCases,
];

function expectDocumentedError(response: { statusCode: number; headers: Record<string, unknown>; body: string }, code?: string): void {
  expect(String(response.headers['content-type'])).toMatch(/^application\/json/);
  const parsed = JSON.parse(response.body) as { error: { code: string; message: string } };
  expect(Object.keys(parsed)).toEqual(['error']);
  expect(Object.keys(parsed.error).sort()).toEqual(['code', 'message']);
  expect(parsed.error.code).toMatch(/^ERR_[A-Z_]+$/);
  expect(parsed.error.message.length).toBeGreaterThan(0);
  if (code) expect(parsed.error.code).toBe(code);
}

describe('hostile input', () => {
  let app: FastifyInstance;

  beforeAll(async () => {
    const config = configFrom({
      server: { body_limit_bytes: BODY_LIMIT },
      backends: { dev: { type: 'local', data_dir: tempDir() } },
      rings: [
        { name: 'main', backend: 'dev', alg: 'ES256', create_if_missing: true },
        { name: 'other', backend: 'dev', alg: 'ES256', create_if_missing: true },
      ],
      clients: [
        { name: 'wide', api_key_sha256: sha256Hex(TEST_API_KEY), rings: ['*'], audiences: ['*'], subjects: ['*'], claims: ['*'], max_ttl_seconds: 3600 },
        {
          name: 'narrow',
          api_key_sha256: sha256Hex(NARROW_KEY),
          rings: ['main'],
          audiences: ['https://*.example.com', 'https://api.example.com/v1/*', 'urn:svc:*'],
          subjects: ['user:*'],
          claims: ['scope', 'tenant'],
          max_ttl_seconds: 300,
        },
      ],
      admin: { api_key_sha256: [sha256Hex(TEST_ADMIN_KEY)] },
    });
    app = await buildApp(config, { logger: pino({ level: 'silent' }), scheduling: false });
    await app.ready();
  });
  afterAll(async () => app?.close());

  it(`has at least 300 cases (${cases.length})`, () => {
    expect(cases.length).toBeGreaterThanOrEqual(300);
  });

  it.each(cases.map((c) => [c.name, c] as const))('%s', async (_name, c) => {
    const payload = c.payload === undefined || typeof c.payload === 'string' || Buffer.isBuffer(c.payload) ? (c.payload as string | Buffer | undefined) : JSON.stringify(c.payload);
    const response = await app.inject({ method: (c.method ?? 'POST') as 'POST', url: c.url ?? '/v1/tokens', headers: c.headers ?? {}, ...(payload === undefined ? {} : { payload }) });
    expect(response.statusCode).toBeLessThan(500);
    if (c.statuses) {
      expect(c.statuses).toContain(response.statusCode);
    } else {
      expect({ status: response.statusCode, body: response.body.slice(0, 300) }).toMatchObject({ status: c.status });
    }
    if (response.statusCode >= 400) expectDocumentedError(response, c.code);
    if (response.statusCode === 200 && c.url === '/v1/tokens') {
      // What was accepted is signed exactly as sent.
      const sent = JSON.parse(Buffer.isBuffer(payload) ? payload.toString('utf8') : (payload as string).replace(/^\ufeff/, '')) as { claims?: Record<string, unknown>; audience: unknown };
      const claims = decodeJwt((JSON.parse(response.body) as { token: string }).token);
      expect(claims.aud).toEqual(sent.audience);
      for (const [name, value] of Object.entries(sent.claims ?? {})) expect(claims[name]).toEqual(value);
    }
  });

  it.each(oauthCases.map((c) => [c.name, c] as const))('%s', async (_name, c) => {
    const response = await app.inject({ method: 'POST', url: '/oauth2/token', headers: c.headers ?? {}, ...(c.payload === undefined ? {} : { payload: c.payload as string | Buffer }) });
    expect({ status: response.statusCode, body: response.body.slice(0, 300) }).toMatchObject({ status: c.status });
    expect(response.headers['cache-control']).toBe('no-store');
    const answer = JSON.parse(response.body) as Record<string, unknown>;
    if (response.statusCode === 200) {
      expect(answer).toMatchObject({ token_type: 'Bearer' });
      expect(decodeJwt(answer.access_token as string).aud).toBe('a');
    } else {
      // RFC 6749 §5.2: error, error_description (printable ASCII, no " or \\), nothing else.
      expect(Object.keys(answer).sort()).toEqual(['error', 'error_description']);
      expect(answer.error).toBe(c.code);
      expect(answer.error_description).toMatch(/^[\x20-\x21\x23-\x5b\x5d-\x7e]+$/);
    }
  });

  it(`has at least 300 cases besides the OAuth ones (${cases.length} + ${oauthCases.length})`, () => {
    expect(oauthCases.length).toBeGreaterThanOrEqual(40);
  });

  it('names the unknown field and the missing one', async () => {
    const unknown = await app.inject({ method: 'POST', url: '/v1/tokens', headers: wide, payload: { audience: 'a', alg: 'none' } });
    expect(JSON.parse(unknown.body).error.message).toBe('request body has an unknown field "alg"');
    const missing = await app.inject({ method: 'POST', url: '/v1/tokens', headers: wide, payload: {} });
    expect(JSON.parse(missing.body).error.message).toBe('request body is missing the required field "audience"');
    const revoke = await app.inject({ method: 'POST', url: '/v1/admin/rings/main/versions/1/revoke', headers: { ...admin, ...json }, payload: { reason: 'x', force: true } });
    expect(JSON.parse(revoke.body).error.message).toBe('request body has an unknown field "force"');
  });

  it('revokes with no body at all (the body is optional)', async () => {
    const response = await app.inject({ method: 'POST', url: '/v1/admin/rings/other/versions/1/revoke', headers: admin });
    expect(response.statusCode).toBe(200);
    expect(JSON.parse(response.body)).toMatchObject({ version: 1, replacement: { version: 2 } });
  });

  it('ignores Host and X-Forwarded-* when it names itself (trust_proxy is off)', async () => {
    for (const headers of [{ host: 'evil.example' }, { 'x-forwarded-host': 'evil.example', 'x-forwarded-proto': 'http' }, { forwarded: 'host=evil.example' }]) {
      const discovery = JSON.parse((await app.inject({ method: 'GET', url: '/.well-known/openid-configuration', headers })).body) as { issuer: string; jwks_uri: string };
      expect(discovery.issuer).toBe('http://127.0.0.1:8080');
      expect(discovery.jwks_uri).toBe('http://127.0.0.1:8080/.well-known/jwks.json');
    }
  });

  it('answers errors in JSON whatever the client accepts', async () => {
    const response = await app.inject({ method: 'GET', url: '/nowhere', headers: { accept: 'text/html' } });
    expectDocumentedError(response, 'ERR_NOT_FOUND');
  });

  it('answers 405 with an Allow header', async () => {
    const response = await app.inject({ method: 'GET', url: '/v1/tokens' });
    expect(response.headers.allow).toBe('POST');
  });

  it('is healthy afterwards and still issues tokens', async () => {
    expect((await app.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
    expect((await app.inject({ method: 'GET', url: '/readyz' })).statusCode).toBe(200);
    const issued = await app.inject({ method: 'POST', url: '/v1/tokens', headers: narrow, payload: { audience: 'urn:svc:a', subject: 'user:1', claims: { scope: 'read' } } });
    expect(issued.statusCode).toBe(200);
  });
});

// ── raw HTTP over a socket: what never becomes a Fastify request ─────────────

function parseRaw(text: string): { status: number; headers: Record<string, string>; body: string } {
  const [head = '', ...rest] = text.split('\r\n\r\n');
  const [statusLine = '', ...lines] = head.split('\r\n');
  const headers = Object.fromEntries(lines.map((line) => [line.slice(0, line.indexOf(':')).toLowerCase(), line.slice(line.indexOf(':') + 1).trim()]));
  return { status: Number(statusLine.split(' ')[1]), headers, body: rest.join('\r\n\r\n') };
}

const H = 'Host: signet.test\r\n';
const auth = `Authorization: Bearer ${TEST_API_KEY}\r\n`;
const framing: Array<[string, string, number, string]> = [
  ['Content-Length with Transfer-Encoding', `POST /v1/tokens HTTP/1.1\r\n${H}${auth}Content-Type: application/json\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`, 400, 'ERR_MALFORMED_HTTP'],
  ['two Content-Lengths that differ', `POST /v1/tokens HTTP/1.1\r\n${H}${auth}Content-Type: application/json\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}`, 400, 'ERR_MALFORMED_HTTP'],
  ['two equal Content-Lengths', `POST /v1/tokens HTTP/1.1\r\n${H}${auth}Content-Type: application/json\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\n{}`, 400, 'ERR_MALFORMED_HTTP'],
  ['a Content-Length that is not a number', `POST /v1/tokens HTTP/1.1\r\n${H}${auth}Content-Type: application/json\r\nContent-Length: 2x\r\n\r\n{}`, 400, 'ERR_MALFORMED_HTTP'],
  ['a negative Content-Length', `POST /v1/tokens HTTP/1.1\r\n${H}${auth}Content-Type: application/json\r\nContent-Length: -1\r\n\r\n{}`, 400, 'ERR_MALFORMED_HTTP'],
  ['a chunk size that is not hex', `POST /v1/tokens HTTP/1.1\r\n${H}${auth}Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n`, 400, 'ERR_MALFORMED_HTTP'],
  ['Transfer-Encoding that does not end in chunked', `POST /v1/tokens HTTP/1.1\r\n${H}${auth}Content-Type: application/json\r\nTransfer-Encoding: gzip\r\n\r\n{}`, 400, 'ERR_MALFORMED_HTTP'],
  ['Transfer-Encoding: chunked, chunked', `POST /v1/tokens HTTP/1.1\r\n${H}${auth}Content-Type: application/json\r\nTransfer-Encoding: chunked, chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n`, 400, 'ERR_MALFORMED_HTTP'],
  ['a NUL in a header value', `GET /healthz HTTP/1.1\r\n${H}X-Test: a\u0000b\r\n\r\n`, 400, 'ERR_MALFORMED_HTTP'],
  ['a folded header (obs-fold)', `GET /healthz HTTP/1.1\r\n${H}X-Test: a\r\n b\r\n\r\n`, 400, 'ERR_MALFORMED_HTTP'],
  ['a space before the colon', `GET /healthz HTTP/1.1\r\n${H}X-Test : a\r\n\r\n`, 400, 'ERR_MALFORMED_HTTP'],
  ['a header name with a bad character', `GET /healthz HTTP/1.1\r\n${H}X(Test): a\r\n\r\n`, 400, 'ERR_MALFORMED_HTTP'],
  ['headers of 20 KiB', `GET /healthz HTTP/1.1\r\n${H}X-Big: ${'a'.repeat(20 * 1024)}\r\n\r\n`, 431, 'ERR_HEADERS_TOO_LARGE'],
  ['600 headers of 40 bytes', `GET /healthz HTTP/1.1\r\n${H}${Array.from({ length: 600 }, (_, i) => `X-H${String(i).padStart(4, '0')}: ${'v'.repeat(30)}\r\n`).join('')}\r\n`, 431, 'ERR_HEADERS_TOO_LARGE'],
  ['a URL with bad percent-encoding', `GET /rings/%ZZ/.well-known/jwks.json HTTP/1.1\r\n${H}Connection: close\r\n\r\n`, 400, 'ERR_MALFORMED_HTTP'],
  ['a URL with a truncated escape', `GET /rings/%E0%A4%A/.well-known/jwks.json HTTP/1.1\r\n${H}Connection: close\r\n\r\n`, 400, 'ERR_MALFORMED_HTTP'],
  ['a request line that is not HTTP', `HELLO\r\n\r\n`, 400, 'ERR_MALFORMED_HTTP'],
  ['an unknown HTTP version', `GET /healthz HTTP/9.9\r\n${H}\r\n`, 400, 'ERR_MALFORMED_HTTP'],
  ['bare LF line endings in the headers', `GET /healthz HTTP/1.1\nHost: x\nX-A: b\r\n\r\n`, 400, 'ERR_MALFORMED_HTTP'],
  ['no Host header on HTTP/1.1', `GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n`, 400, 'ERR_MALFORMED_HTTP'],
  ['OPTIONS without preflight headers on /v1/tokens', `OPTIONS /v1/tokens HTTP/1.1\r\n${H}Connection: close\r\n\r\n`, 405, 'ERR_METHOD_NOT_ALLOWED'],
  ['a CORS preflight on /v1/tokens', `OPTIONS /v1/tokens HTTP/1.1\r\n${H}Origin: https://evil.example\r\nAccess-Control-Request-Method: POST\r\nAccess-Control-Request-Headers: authorization\r\nConnection: close\r\n\r\n`, 405, 'ERR_METHOD_NOT_ALLOWED'],
  ['a CORS preflight on the admin API', `OPTIONS /v1/admin/rings HTTP/1.1\r\n${H}Origin: https://evil.example\r\nAccess-Control-Request-Method: GET\r\nConnection: close\r\n\r\n`, 405, 'ERR_METHOD_NOT_ALLOWED'],
  ['a CORS preflight on an unknown path', `OPTIONS /nowhere HTTP/1.1\r\n${H}Origin: https://evil.example\r\nAccess-Control-Request-Method: GET\r\nConnection: close\r\n\r\n`, 404, 'ERR_NOT_FOUND'],
];

describe('hostile HTTP framing (raw socket)', () => {
  let app: FastifyInstance;
  let port: number;

  beforeAll(async () => {
    const config = configFrom({
      backends: { dev: { type: 'local', data_dir: tempDir() } },
      rings: [{ name: 'main', backend: 'dev', alg: 'ES256', create_if_missing: true }],
      clients: [{ name: 'wide', api_key_sha256: sha256Hex(TEST_API_KEY), rings: ['*'], audiences: ['*'], subjects: ['*'], claims: ['*'] }],
      admin: { api_key_sha256: [sha256Hex(TEST_ADMIN_KEY)] },
    });
    app = await buildApp(config, { logger: pino({ level: 'silent' }), scheduling: false });
    await app.listen({ host: '127.0.0.1', port: 0 });
    port = (app.server.address() as { port: number }).port;
  });
  afterAll(async () => app?.close());

  it.each(framing)('%s → %s %s', async (_name, request, status, code) => {
    const response = parseRaw((await rawExchange(port, request)).text);
    expect(response.status).toBe(status);
    expect(response.headers['content-type']).toMatch(/^application\/json/);
    expect(JSON.parse(response.body)).toEqual({ error: { code, message: expect.any(String) } });
    expect(response.headers['access-control-allow-origin']).toBeUndefined();
  });

  it('answers a CORS preflight only on the public discovery routes', async () => {
    for (const path of ['/.well-known/jwks.json', '/rings/main/.well-known/jwks.json', '/.well-known/openid-configuration', '/rings/main/.well-known/openid-configuration']) {
      const response = parseRaw((await rawExchange(port, `OPTIONS ${path} HTTP/1.1\r\n${H}Origin: https://app.example\r\nAccess-Control-Request-Method: GET\r\nAccess-Control-Request-Headers: authorization\r\nConnection: close\r\n\r\n`)).text);
      expect(response.status).toBe(204);
      expect(response.headers['access-control-allow-origin']).toBe('*');
      expect(response.headers['access-control-allow-methods']).toBe('GET, HEAD');
      expect(response.headers['access-control-allow-headers']).toBe('If-None-Match'); // never echoes "authorization"
    }
    const get = parseRaw((await rawExchange(port, `GET /.well-known/jwks.json HTTP/1.1\r\n${H}Origin: https://app.example\r\nConnection: close\r\n\r\n`)).text);
    expect(get.headers['access-control-allow-origin']).toBe('*');
    const tokens = parseRaw((await rawExchange(port, `POST /v1/tokens HTTP/1.1\r\n${H}${auth}Origin: https://app.example\r\nContent-Type: application/json\r\nContent-Length: 16\r\nConnection: close\r\n\r\n{"audience":"a"}`)).text);
    expect(tokens.status).toBe(200);
    expect(tokens.headers['access-control-allow-origin']).toBeUndefined();
  });

  it('HTTP/1.0 without Host is fine (Host is an HTTP/1.1 rule)', async () => {
    const response = parseRaw((await rawExchange(port, 'GET /healthz HTTP/1.0\r\n\r\n')).text);
    expect(response.status).toBe(200);
  });

  it('requests that arrive while the gateway closes get ERR_SHUTTING_DOWN in the documented body', async () => {
    const config = configFrom({ backends: { dev: { type: 'local', data_dir: tempDir() } }, rings: [{ name: 'main', backend: 'dev', alg: 'ES256', create_if_missing: true }] });
    const closing = await buildApp(config, { logger: pino({ level: 'silent' }), scheduling: false });
    let answered: { status: number; body: string; headers: Record<string, string> } | undefined;
    closing.addHook('preClose', async () => {
      // Still listening: a request that arrives now is one a load balancer sent too late.
      const { port: closingPort } = closing.server.address() as { port: number };
      answered = parseRaw((await rawExchange(closingPort, `GET /healthz HTTP/1.1\r\n${H}Connection: close\r\n\r\n`)).text);
    });
    await closing.listen({ host: '127.0.0.1', port: 0 });
    await closing.close();
    expect(answered?.status).toBe(503);
    expect(JSON.parse(answered!.body)).toEqual({ error: { code: 'ERR_SHUTTING_DOWN', message: expect.stringMatching(/shutting down/) } });
    expect(answered?.headers['retry-after']).toBe('1');
  });

  it('is healthy afterwards', async () => {
    const response = parseRaw((await rawExchange(port, `GET /readyz HTTP/1.1\r\n${H}Connection: close\r\n\r\n`)).text);
    expect(response.status).toBe(200);
  });
});

describe('hostile HTTP framing over TLS', () => {
  let app: FastifyInstance;
  let port: number;
  let ca: Buffer;

  beforeAll(async () => {
    const dir = tempDir();
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { stdio: 'ignore' });
    ca = readFileSync(join(dir, 'cert.pem'));
    const config = configFrom({
      server: { tls: { cert_file: join(dir, 'cert.pem'), key_file: join(dir, 'key.pem') } },
      backends: { dev: { type: 'local', data_dir: tempDir() } },
      rings: [{ name: 'main', backend: 'dev', alg: 'ES256', create_if_missing: true }],
    });
    app = await buildApp(config, { logger: pino({ level: 'silent' }), scheduling: false });
    await app.listen({ host: '127.0.0.1', port: 0 });
    port = (app.server.address() as { port: number }).port;
  });
  afterAll(async () => app?.close());

  const tlsExchange = (request: string): Promise<string> =>
    new Promise((resolve, reject) => {
      const socket = tlsConnect({ port, host: '127.0.0.1', ca, servername: undefined }, () => socket.write(request));
      let received = '';
      const timer = setTimeout(() => reject(new Error('no answer within 5 s')), 5000);
      socket.on('data', (chunk: Buffer) => (received += chunk.toString('latin1')));
      socket.on('close', () => {
        clearTimeout(timer);
        resolve(received);
      });
      socket.on('error', () => undefined);
    });

  it.each([
    ['no Host header on HTTP/1.1', 'GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n', 400, 'ERR_MALFORMED_HTTP'],
    ['Content-Length with Transfer-Encoding', `POST /v1/tokens HTTP/1.1\r\n${H}Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`, 400, 'ERR_MALFORMED_HTTP'],
    ['a CORS preflight on /v1/tokens', `OPTIONS /v1/tokens HTTP/1.1\r\n${H}Origin: https://evil.example\r\nAccess-Control-Request-Method: POST\r\nConnection: close\r\n\r\n`, 405, 'ERR_METHOD_NOT_ALLOWED'],
  ])('%s → %s %s', async (_name, request, status, code) => {
    const response = parseRaw(await tlsExchange(request));
    expect(response.status).toBe(status);
    expect(JSON.parse(response.body)).toEqual({ error: { code, message: expect.any(String) } });
  });
});
