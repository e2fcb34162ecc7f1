// SPKI → JWK conversion and RFC 7638 thumbprints, pinned to the RFCs' own vectors.
import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { spkiToJwk, ed25519RawToSpki, pemToDer } from '../src/jose/jwk.js';
import { GatewayError } from '../src/errors.js';

const spkiOf = (jwk: Record<string, string>): Uint8Array =>
  createPublicKey({ key: jwk, format: 'jwk' }).export({ format: 'der', type: 'spki' });

describe('spkiToJwk', () => {
  it('gives the RFC 7638 §3.1 thumbprint for the RFC 7638 RSA key', async () => {
    const rfc7638 = {
      kty: 'RSA',
      e: 'AQAB',
      n: '0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw',
    };
    const jwk = await spkiToJwk(spkiOf(rfc7638), 'RS256');
    expect(jwk.kid).toBe('NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs');
    expect(jwk).toEqual({ kty: 'RSA', use: 'sig', alg: 'RS256', kid: 'NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs', n: rfc7638.n, e: 'AQAB' });
  });

  it('gives the RFC 8037 A.3 thumbprint for the RFC 8037 Ed25519 key, from a raw Transit-style key too', async () => {
    const x = '11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo';
    const expected = { kty: 'OKP', use: 'sig', alg: 'EdDSA', kid: 'kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k', crv: 'Ed25519', x };
    expect(await spkiToJwk(spkiOf({ kty: 'OKP', crv: 'Ed25519', x }), 'EdDSA')).toEqual(expected);
    expect(await spkiToJwk(ed25519RawToSpki(Buffer.from(x, 'base64url')), 'EdDSA')).toEqual(expected);
  });

  it.each([
    ['ES256', 'prime256v1', 'P-256', 32],
    ['ES384', 'secp384r1', 'P-384', 48],
    ['ES512', 'secp521r1', 'P-521', 66],
    ['ES256K', 'secp256k1', 'secp256k1', 32],
  ] as const)('%s: converts an EC key on %s with fixed-length coordinates and only public members', async (alg, curve, crv, bytes) => {
    const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: curve });
    const jwk = await spkiToJwk(publicKey.export({ format: 'der', type: 'spki' }), alg);
    const reference = publicKey.export({ format: 'jwk' });
    expect(jwk).toMatchObject({ kty: 'EC', crv, x: reference.x, y: reference.y, alg, use: 'sig' });
    expect(Buffer.from(jwk.x!, 'base64url')).toHaveLength(bytes);
    expect(Object.keys(jwk).sort()).toEqual(['alg', 'crv', 'kid', 'kty', 'use', 'x', 'y']);
    expect(JSON.stringify(jwk)).not.toContain(privateKey.export({ format: 'jwk' }).d!);
  });

  it('strips the DER sign byte from RSA moduli', async () => {
    const { publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const jwk = await spkiToJwk(publicKey.export({ format: 'der', type: 'spki' }), 'PS256');
    expect(Buffer.from(jwk.n!, 'base64url')).toHaveLength(256);
    expect(jwk.n).toBe(publicKey.export({ format: 'jwk' }).n);
  });

  it('reads PEM from Transit', async () => {
    const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const pem = publicKey.export({ format: 'pem', type: 'spki' }) as string;
    expect(Buffer.from(pemToDer(pem))).toEqual(publicKey.export({ format: 'der', type: 'spki' }));
  });

  it.each([
    ['an RSA key on an ES256 ring', () => generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey, 'ES256', 'ERR_UNSUPPORTED_KEY'],
    ['a P-384 key on an ES256 ring', () => generateKeyPairSync('ec', { namedCurve: 'secp384r1' }).publicKey, 'ES256', 'ERR_UNSUPPORTED_KEY'],
    ['an Ed25519 key on an RS256 ring', () => generateKeyPairSync('ed25519').publicKey, 'RS256', 'ERR_UNSUPPORTED_KEY'],
  ] as const)('refuses %s', async (_name, make, alg, code) => {
    await expect(spkiToJwk(make().export({ format: 'der', type: 'spki' }), alg)).rejects.toMatchObject({ code });
  });

  it.each([
    ['empty input', Buffer.alloc(0)],
    ['garbage', Buffer.from('not der at all')],
    ['a truncated SPKI', Buffer.from(generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).publicKey.export({ format: 'der', type: 'spki' })).subarray(0, 40)],
    ['trailing bytes', Buffer.concat([generateKeyPairSync('ed25519').publicKey.export({ format: 'der', type: 'spki' }), Buffer.from([0])])],
    ['an INTEGER instead of a SEQUENCE', Buffer.from('020101', 'hex')],
  ])('raises a typed error for %s', async (_name, der) => {
    const failure = await spkiToJwk(der, 'ES256').catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(GatewayError);
    expect((failure as GatewayError).code).toMatch(/^ERR_(MALFORMED_DER|UNSUPPORTED_KEY)$/);
  });
});
