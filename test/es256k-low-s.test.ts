// ES256K signatures are low-S (BIP-62 / libsecp256k1) whatever the backend, so verifiers built on
// libsecp256k1 accept every token. Checked by an independent verifier: coincurve (libsecp256k1)
// in Python, which rejects high-S; and by hand: s ≤ n/2 for every signature.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import pino from 'pino';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { buildApp } from '../src/app.js';
import { isLowS } from '../src/jose/low-s.js';
import { CACHE_DIR } from './harness/tools.js';
import { awsKmsCase, localCase, type ConformanceCase } from './helpers/backend-cases.js';
import { configFrom, openClient, TEST_API_KEY } from './helpers/gateway.js';

const PYTHON = join(CACHE_DIR, 'venv', 'bin', 'python');
const N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;
const TOKENS = 40;

function requireCoincurve(): void {
  try {
    if (existsSync(PYTHON)) {
      execFileSync(PYTHON, ['-c', 'import coincurve'], { stdio: 'ignore' });
      return;
    }
  } catch {
    // reported below
  }
  throw new Error(`coincurve (libsecp256k1 for Python) is missing from ${join(CACHE_DIR, 'venv')}. Install it with scripts/install-test-backends.sh (or ${join(CACHE_DIR, 'venv', 'bin', 'pip')} install coincurve==21.0.0)`);
}

/** What libsecp256k1 says of each token. */
function libsecp256k1Verdicts(items: Array<{ jwk: unknown; token: string }>): string[] {
  const input = items.map((item) => JSON.stringify(item)).join('\n');
  return execFileSync(PYTHON, [join(import.meta.dirname, 'helpers', 'verify_secp256k1.py')], { input, encoding: 'utf8' }).trim().split('\n');
}

const signatureOf = (token: string): Uint8Array => Buffer.from(token.split('.')[2]!, 'base64url');

describe('ES256K low-S', () => {
  beforeAll(() => requireCoincurve());

  const cases: Array<[string, () => ConformanceCase]> = [
    ['local', localCase],
    ['aws-kms (moto)', () => awsKmsCase(() => ({ openbaoUrl: inject('openbaoUrl'), motoUrl: inject('motoUrl') }))],
  ];

  it.each(cases)('%s: every signature is low-S and libsecp256k1 accepts every token', async (_kind, makeCase) => {
    const backend = makeCase();
    const key = `lows-${Math.random().toString(36).slice(2, 10)}`;
    await backend.provision(key, 'ES256K');
    const app = await buildApp(configFrom({ backends: { b: backend.backendConfig() }, rings: [{ name: 'k1', backend: 'b', key, alg: 'ES256K' }], clients: [openClient()] }), {
      logger: pino({ level: 'silent' }),
      scheduling: false,
    });
    try {
      await app.ready();
      const jwk = (JSON.parse((await app.inject({ method: 'GET', url: '/.well-known/jwks.json' })).body) as { keys: unknown[] }).keys[0];
      const tokens: string[] = [];
      for (let i = 0; i < TOKENS; i++) {
        const response = await app.inject({ method: 'POST', url: '/v1/tokens', headers: { authorization: `Bearer ${TEST_API_KEY}`, 'content-type': 'application/json' }, payload: { audience: 'a', claims: { i } } });
        expect(response.statusCode).toBe(200);
        tokens.push((JSON.parse(response.body) as { token: string }).token);
      }
      // By hand: s ≤ n/2 for each signature.
      for (const token of tokens) {
        const s = BigInt(`0x${Buffer.from(signatureOf(token).subarray(32)).toString('hex')}`);
        expect(s <= N / 2n).toBe(true);
        expect(isLowS('ES256K', signatureOf(token))).toBe(true);
      }
      expect(libsecp256k1Verdicts(tokens.map((token) => ({ jwk, token })))).toEqual(tokens.map(() => 'ok'));

      // The verifier does enforce the rule: the same signature with s → n − s is refused.
      const [header, payload, signature] = tokens[0]!.split('.') as [string, string, string];
      const bytes = Buffer.from(signature, 'base64url');
      const high = (N - BigInt(`0x${bytes.subarray(32).toString('hex')}`)).toString(16).padStart(64, '0');
      const malleated = `${header}.${payload}.${Buffer.concat([bytes.subarray(0, 32), Buffer.from(high, 'hex')]).toString('base64url')}`;
      expect(libsecp256k1Verdicts([{ jwk, token: malleated }])).toEqual(['rejected']);
    } finally {
      await app.close();
    }
  });
});
