// DER ECDSA signatures (KMS) → JOSE r||s: known vectors, the padding rules, real signatures from
// node:crypto on every curve, and malformed input that must become MalformedDerError, never a crash.
import { generateKeyPairSync, randomBytes, sign, verify } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { derToJoseSignature } from '../src/jose/ecdsa.js';
import { MalformedDerError } from '../src/errors.js';

const hex = (value: string): Buffer => Buffer.from(value.replace(/\s+/g, ''), 'hex');
const toHex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');

function derLength(length: number): Buffer {
  if (length < 0x80) return Buffer.from([length]);
  const bytes: number[] = [];
  for (let n = length; n > 0; n >>= 8) bytes.unshift(n & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}
const tlv = (tag: number, content: Buffer): Buffer => Buffer.concat([Buffer.from([tag]), derLength(content.length), content]);
/** Minimal DER INTEGER for an unsigned magnitude. */
function integer(magnitude: Buffer): Buffer {
  let start = 0;
  while (start < magnitude.length - 1 && magnitude[start] === 0) start++;
  let body = magnitude.subarray(start);
  if (body[0]! & 0x80) body = Buffer.concat([Buffer.from([0]), body]);
  return tlv(0x02, body);
}
const signature = (r: Buffer, s: Buffer): Buffer => tlv(0x30, Buffer.concat([integer(r), integer(s)]));

function malformedCode(der: Buffer, size = 32): string {
  try {
    derToJoseSignature(der, size);
  } catch (error) {
    expect(error).toBeInstanceOf(MalformedDerError);
    return (error as MalformedDerError).code;
  }
  throw new Error(`accepted ${der.toString('hex')}`);
}

describe('derToJoseSignature: known vectors', () => {
  it('small r and s are left-padded to the coordinate size', () => {
    expect(toHex(derToJoseSignature(hex('3006 020101 020102'), 32))).toBe(`${'00'.repeat(31)}01${'00'.repeat(31)}02`);
  });

  it('RFC 6979 A.2.5 (P-256, SHA-256, "sample"): DER and r||s agree', () => {
    const r = 'efd48b2aacb6a8fd1140dd9cd45e81d69d2c877b56aaf991c34d0ea84eaf3716';
    const s = 'f7cb1c942d657c41d436c7a1b6e29f65f3e900dbb9aff4064dc4ab2f843acda8';
    // Both have the high bit set, so DER carries a 0x00 pad on each, which must not survive.
    const der = hex(`3046 022100${r} 022100${s}`);
    expect(signature(hex(r), hex(s)).equals(der)).toBe(true);
    expect(toHex(derToJoseSignature(der, 32))).toBe(r + s);
  });

  it('a high-bit r loses its DER 0x00 pad; a low-bit s keeps its length', () => {
    const r = `80${'ff'.repeat(31)}`;
    const s = `7f${'01'.repeat(31)}`;
    const der = hex(`3045 022100${r} 0220${s}`);
    expect(toHex(derToJoseSignature(der, 32))).toBe(r + s);
  });

  it('leading zero bytes of a short r or s are restored (r||s is fixed length)', () => {
    const r = `0000${'ab'.repeat(30)}`; // DER encodes this in 31 bytes (one 0x00 pad for the high bit)
    const s = `000000${'11'.repeat(29)}`; // and this in 29
    const der = signature(hex(r), hex(s));
    expect(der.length).toBe(2 + 2 + 31 + 2 + 29);
    const out = derToJoseSignature(der, 32);
    expect(out.length).toBe(64);
    expect(toHex(out)).toBe(r + s);
  });

  it('P-384: 48-byte halves', () => {
    const r = `ff${'01'.repeat(47)}`;
    const s = `00${'02'.repeat(47)}`;
    expect(toHex(derToJoseSignature(signature(hex(r), hex(s)), 48))).toBe(r + s);
  });

  it('P-521: 66-byte halves with a long-form SEQUENCE length', () => {
    const r = `01${'ff'.repeat(65)}`; // 521 bits: the top byte is at most 0x01
    const s = `00${'7e'.repeat(65)}`; // a 65-byte s must come back as 66 bytes
    const der = signature(hex(r), hex(s));
    expect(der.subarray(0, 2).toString('hex')).toBe('3081'); // content is over 127 bytes
    const out = derToJoseSignature(der, 66);
    expect(out.length).toBe(132);
    expect(toHex(out)).toBe(r + s);
  });

  it('r = s = 0 is encoded as 02 01 00 and becomes all zeros (structurally valid; verification rejects it)', () => {
    expect(toHex(derToJoseSignature(hex('3006 020100 020100'), 32))).toBe('00'.repeat(64));
  });
});

describe('derToJoseSignature: real signatures from node:crypto', () => {
  const curves = [
    { curve: 'prime256v1', size: 32, hash: 'sha256' },
    { curve: 'secp256k1', size: 32, hash: 'sha256' },
    { curve: 'secp384r1', size: 48, hash: 'sha384' },
    { curve: 'secp521r1', size: 66, hash: 'sha512' },
  ] as const;

  it.each(curves)('$curve: 200 DER signatures convert to r||s that verifies as ieee-p1363 (short r/s included)', ({ curve, size, hash }) => {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: curve });
    let short = 0;
    for (let i = 0; i < 200; i++) {
      const message = randomBytes(32);
      const der = sign(hash, message, { key: privateKey, dsaEncoding: 'der' });
      const jose = derToJoseSignature(der, size);
      expect(jose.length).toBe(2 * size);
      if (jose[0] === 0 || jose[size] === 0) short++;
      expect(verify(hash, message, { key: publicKey, dsaEncoding: 'ieee-p1363' }, jose)).toBe(true);
    }
    // ~1 in 128 halves starts with 0x00 (P-521: the top byte is 0x00 or 0x01 about half the time).
    if (curve === 'secp521r1') expect(short).toBeGreaterThan(0);
  });
});

describe('derToJoseSignature: malformed DER is ERR_MALFORMED_DER', () => {
  const valid = hex('3006 020101 020102');

  it.each([
    ['empty input', ''],
    ['a lone tag', '30'],
    ['truncated: the last byte missing', '3006 020101 0201'],
    ['truncated: the SEQUENCE claims more than is there', '3050 020101 020102'],
    ['an INTEGER length past the end', '3006 020501 020102'],
    ['overlong long-form length', '3089 ffffffffffffffffff'],
    ['trailing bytes after the SEQUENCE', '3006 020101 020102 00'],
    ['a second SEQUENCE appended', '3006 020101 020102 3006 020101 020102'],
    ['SET instead of SEQUENCE', '3106 020101 020102'],
    ['OCTET STRING instead of SEQUENCE', '0406 020101 020102'],
    ['OCTET STRING instead of INTEGER r', '3006 040101 020102'],
    ['BIT STRING instead of INTEGER s', '3007 020101 03020002'],
    ['NULL instead of INTEGER', '3005 020101 0500'],
    ['only one INTEGER', '3003 020101'],
    ['three INTEGERs', '3009 020101 020102 020103'],
    ['an empty SEQUENCE', '3000'],
    ['an empty INTEGER', '3005 0200 020102'],
    ['a negative r', '3006 020180 020102'],
    ['a negative s', '3006 020101 0201ff'],
    ['a constructed INTEGER', '3008 22060201010201 0102'],
    // Found by the fuzz test below: asn1js throws RangeError (not an error offset) for these.
    ['a BMPString with an odd length', '1e0100'],
    ['a BMPString with an odd length inside the SEQUENCE', '3003 1e0100'],
  ])('%s', (_name, der) => {
    expect(malformedCode(hex(der))).toBe('ERR_MALFORMED_DER');
  });

  it('an integer longer than the curve allows (33-byte magnitude for P-256)', () => {
    const r = Buffer.concat([Buffer.from([0x01]), Buffer.alloc(32, 0xaa)]);
    expect(malformedCode(signature(r, hex('02')), 32)).toBe('ERR_MALFORMED_DER');
    // The same bytes are fine for P-384.
    expect(derToJoseSignature(signature(r, hex('02')), 48).length).toBe(96);
  });

  it('a P-521 signature handed to a P-256 ring', () => {
    const der = signature(Buffer.alloc(66, 0x01), Buffer.alloc(66, 0x01));
    expect(malformedCode(der, 32)).toBe('ERR_MALFORMED_DER');
  });

  it('random bytes and random mutations of a valid signature never crash', () => {
    const real = signature(hex(`80${'ff'.repeat(31)}`), hex(`7f${'01'.repeat(31)}`));
    for (let i = 0; i < 3000; i++) {
      let input: Buffer;
      if (i % 3 === 0) {
        input = randomBytes(i % 80);
      } else {
        input = Buffer.from(i % 2 ? real : valid);
        const flips = 1 + (i % 4);
        for (let f = 0; f < flips; f++) input[randomBytes(1)[0]! % input.length] = randomBytes(1)[0]!;
        if (i % 5 === 0) input = input.subarray(0, randomBytes(1)[0]! % input.length);
      }
      try {
        expect(derToJoseSignature(input, 32).length).toBe(64);
      } catch (error) {
        if (!(error instanceof MalformedDerError)) throw new Error(`${input.toString('hex')} threw ${String(error)}`);
      }
    }
  });
});
