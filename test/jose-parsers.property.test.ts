// Property tests for the parsers that read what a backend returns (DER ECDSA signatures, SPKI
// public keys, PEM): over thousands of random and mutated inputs they either give a well-formed
// result or throw one of our typed errors, never a RangeError or a crash; and for real keys and
// signatures they agree with node:crypto. Plus the ES256K low-S rule over random signatures.
import { generateKeyPairSync, sign as nodeSign, type KeyObject } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { GatewayError, MalformedDerError, UnsupportedKeyError } from '../src/errors.js';
import type { JwsAlg } from '../src/jose/algorithms.js';
import { derToJoseSignature } from '../src/jose/ecdsa.js';
import { ed25519RawToSpki, pemToDer, spkiToJwk } from '../src/jose/jwk.js';
import { isLowS, normaliseSignature } from '../src/jose/low-s.js';

const RUNS = { numRuns: 3000 };

const CURVES: Array<{ curve: string; size: number; alg: JwsAlg }> = [
  { curve: 'prime256v1', size: 32, alg: 'ES256' },
  { curve: 'secp384r1', size: 48, alg: 'ES384' },
  { curve: 'secp521r1', size: 66, alg: 'ES512' },
  { curve: 'secp256k1', size: 32, alg: 'ES256K' },
];
const keys = CURVES.map((c) => ({ ...c, ...generateKeyPairSync('ec', { namedCurve: c.curve }) }));
const spkiOf = (key: KeyObject): Uint8Array => key.export({ format: 'der', type: 'spki' });
const realSpkis: Array<{ spki: Uint8Array; alg: JwsAlg }> = [
  ...keys.map((k) => ({ spki: spkiOf(k.publicKey), alg: k.alg })),
  { spki: spkiOf(generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey), alg: 'RS256' },
  { spki: spkiOf(generateKeyPairSync('ed25519').publicKey), alg: 'EdDSA' },
];

/** Byte-level mutations of a valid encoding: flips, truncations, insertions, length-byte edits. */
function mutated(valid: Uint8Array): fc.Arbitrary<Uint8Array> {
  return fc.oneof(
    fc.tuple(fc.nat(valid.length - 1), fc.integer({ min: 1, max: 255 })).map(([at, xor]) => {
      const copy = Uint8Array.from(valid);
      copy[at]! ^= xor;
      return copy;
    }),
    fc.nat(valid.length).map((length) => valid.subarray(0, length)),
    fc.tuple(fc.nat(valid.length), fc.uint8Array({ minLength: 1, maxLength: 8 })).map(([at, extra]) => Uint8Array.from([...valid.subarray(0, at), ...extra, ...valid.subarray(at)])),
    fc.tuple(fc.constantFrom(1, 3, 4, 5), fc.integer({ min: 0, max: 255 })).map(([at, value]) => {
      const copy = Uint8Array.from(valid);
      if (at < copy.length) copy[at] = value;
      return copy;
    }),
  );
}

/** DER built from parts: SEQUENCE of INTEGER-ish items with arbitrary tags, lengths and contents. */
const derLike = fc
  .array(fc.tuple(fc.constantFrom(0x02, 0x02, 0x02, 0x30, 0x04, 0x05, 0x1e, 0xa0), fc.uint8Array({ maxLength: 70 }), fc.boolean()), { maxLength: 4 })
  .map((items) => {
    const body = items.flatMap(([tag, content, longForm]) => (longForm && content.length < 128 ? [tag, 0x81, content.length, ...content] : [tag, content.length & 0x7f, ...content]));
    return Uint8Array.from([0x30, body.length < 128 ? body.length : 0x7f, ...body]);
  });

function typedOnly(work: () => unknown): void {
  try {
    work();
  } catch (error) {
    expect(error).toBeInstanceOf(MalformedDerError);
  }
}

describe('DER ECDSA signature parser (properties)', () => {
  it.each(keys.map((k) => [k.alg, k] as const))('%s: agrees with node:crypto on real signatures', (_alg, key) => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (message) => {
        const der = nodeSign('sha256', message, { key: key.privateKey, dsaEncoding: 'der' });
        const p1363 = nodeSign('sha256', message, { key: key.privateKey, dsaEncoding: 'ieee-p1363' });
        expect(derToJoseSignature(der, key.size)).toHaveLength(2 * key.size);
        // ECDSA is randomised, so compare through the DER of the P1363 form instead.
        const reencoded = derToJoseSignature(p1363ToDer(p1363, key.size), key.size);
        expect(Buffer.from(reencoded).equals(p1363)).toBe(true);
      }),
      { numRuns: 200 },
    );
  });

  it('random bytes: a fixed-length r‖s or MalformedDerError, nothing else', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 160 }), fc.constantFrom(32, 48, 66), (bytes, size) => {
        typedOnly(() => expect(derToJoseSignature(bytes, size)).toHaveLength(2 * size));
      }),
      RUNS,
    );
  });

  it('DER-shaped inputs: a fixed-length r‖s or MalformedDerError', () => {
    fc.assert(
      fc.property(derLike, fc.constantFrom(32, 48, 66), (bytes, size) => {
        typedOnly(() => expect(derToJoseSignature(bytes, size)).toHaveLength(2 * size));
      }),
      RUNS,
    );
  });

  it('mutated real signatures: a fixed-length r‖s or MalformedDerError', () => {
    const samples = keys.map((k) => ({ size: k.size, der: nodeSign('sha256', Buffer.from('m'), { key: k.privateKey, dsaEncoding: 'der' }) }));
    fc.assert(
      fc.property(fc.constantFrom(...samples).chain((sample) => mutated(sample.der).map((bytes) => ({ bytes, size: sample.size }))), ({ bytes, size }) => {
        typedOnly(() => expect(derToJoseSignature(bytes, size)).toHaveLength(2 * size));
      }),
      RUNS,
    );
  });
});

describe('SPKI → JWK parser (properties)', () => {
  async function typedOnlyAsync(spki: Uint8Array, alg: JwsAlg): Promise<void> {
    try {
      const jwk = await spkiToJwk(spki, alg);
      expect(jwk.kid).toMatch(/^[A-Za-z0-9_-]{43}$/);
      expect(Object.keys(jwk).every((member) => ['kty', 'use', 'alg', 'kid', 'crv', 'x', 'y', 'n', 'e'].includes(member))).toBe(true);
    } catch (error) {
      expect(error).toBeInstanceOf(GatewayError);
      expect([MalformedDerError, UnsupportedKeyError].some((type) => error instanceof type)).toBe(true);
    }
  }

  it('real keys convert, and each converts only for its own alg', async () => {
    for (const { spki, alg } of realSpkis) {
      await expect(spkiToJwk(spki, alg)).resolves.toMatchObject({ alg });
      const other: JwsAlg = alg === 'ES256' ? 'ES384' : 'ES256';
      await expect(spkiToJwk(spki, other)).rejects.toBeInstanceOf(UnsupportedKeyError);
    }
  });

  it('random bytes: a public JWK or a typed error', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 300 }), fc.constantFrom<JwsAlg>('ES256', 'ES384', 'ES512', 'ES256K', 'RS256', 'EdDSA'), typedOnlyAsync),
      RUNS,
    );
  });

  it('mutated real SPKIs: a public JWK or a typed error', async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...realSpkis).chain((sample) => mutated(sample.spki).map((spki) => ({ spki, alg: sample.alg }))), ({ spki, alg }) => typedOnlyAsync(spki, alg)),
      RUNS,
    );
  });

  it('raw Ed25519 keys of any length: an SPKI for 32 bytes, UnsupportedKeyError otherwise', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (raw) => {
        if (raw.length === 32) expect(ed25519RawToSpki(raw)).toHaveLength(44);
        else expect(() => ed25519RawToSpki(raw)).toThrow(UnsupportedKeyError);
      }),
      RUNS,
    );
  });

  it('PEM text of any shape: DER bytes or MalformedDerError', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.base64String().map((b) => `-----BEGIN PUBLIC KEY-----\n${b}\n-----END PUBLIC KEY-----`)), (pem) => {
        typedOnly(() => expect(pemToDer(pem)).toBeInstanceOf(Uint8Array));
      }),
      RUNS,
    );
  });
});

describe('ES256K low-S (properties)', () => {
  const N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;
  const big = (bytes: Uint8Array): bigint => BigInt(`0x${Buffer.from(bytes).toString('hex')}`);

  it('any r‖s becomes low-S, keeps r, and maps s to n − s only when s > n/2', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 64, maxLength: 64 }), (signature) => {
        fc.pre(big(signature.subarray(32)) < N && big(signature.subarray(32)) > 0n);
        const normalised = normaliseSignature('ES256K', signature);
        expect(Buffer.from(normalised.subarray(0, 32)).equals(Buffer.from(signature.subarray(0, 32)))).toBe(true);
        const s = big(signature.subarray(32));
        const low = big(normalised.subarray(32));
        expect(low <= N / 2n).toBe(true);
        expect(low).toBe(s > N / 2n ? N - s : s);
        expect(isLowS('ES256K', normalised)).toBe(true);
      }),
      RUNS,
    );
  });

  it('other algs pass through untouched', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 64, maxLength: 132 }), fc.constantFrom<JwsAlg>('ES256', 'ES384', 'ES512', 'RS256', 'EdDSA'), (signature, alg) => {
        expect(normaliseSignature(alg, signature)).toBe(signature);
      }),
      RUNS,
    );
  });
});

/** P1363 r‖s → minimal DER (the encoding KMS returns), for the round-trip property. */
function p1363ToDer(signature: Uint8Array, size: number): Uint8Array {
  const integer = (bytes: Uint8Array): number[] => {
    let start = 0;
    while (start < bytes.length - 1 && bytes[start] === 0) start++;
    const trimmed = [...bytes.subarray(start)];
    const content = trimmed[0]! & 0x80 ? [0, ...trimmed] : trimmed;
    return [0x02, content.length, ...content];
  };
  const body = [...integer(signature.subarray(0, size)), ...integer(signature.subarray(size))];
  return Uint8Array.from(body.length < 128 ? [0x30, body.length, ...body] : [0x30, 0x81, body.length, ...body]);
}
