// ECDSA signatures: DER `SEQUENCE { r INTEGER, s INTEGER }` (KMS, PKCS#11 wrappers) →
// JOSE's fixed-length r || s (RFC 7518 §3.4), keeping leading zeros and dropping DER sign pads.
import * as asn1js from 'asn1js';
import { MalformedDerError } from '../errors.js';

function fixedLength(integer: asn1js.AsnType, size: number, name: string): Uint8Array {
  if (!(integer instanceof asn1js.Integer)) throw new MalformedDerError(`ECDSA signature: ${name} is not an INTEGER`);
  const bytes = integer.valueBlock.valueHexView;
  if (bytes.length === 0) throw new MalformedDerError(`ECDSA signature: ${name} is empty`);
  if (bytes[0]! & 0x80) throw new MalformedDerError(`ECDSA signature: ${name} is negative`);
  let start = 0;
  while (start < bytes.length && bytes[start] === 0) start++;
  const magnitude = bytes.subarray(start);
  if (magnitude.length > size) {
    throw new MalformedDerError(`ECDSA signature: ${name} is longer than the curve's ${size} bytes`);
  }
  const out = new Uint8Array(size);
  out.set(magnitude, size - magnitude.length);
  return out;
}

/** `size` is the byte length of one coordinate: 32 (P-256, secp256k1), 48 (P-384), 66 (P-521). */
export function derToJoseSignature(der: Uint8Array, size: number): Uint8Array {
  let parsed: ReturnType<typeof asn1js.fromBER>;
  try {
    parsed = asn1js.fromBER(der);
  } catch (error) {
    // asn1js throws on some malformed inputs (e.g. odd-length BMPString) instead of flagging them.
    throw new MalformedDerError('ECDSA signature is not valid DER', { cause: error });
  }
  if (parsed.offset === -1 || parsed.offset !== der.byteLength) {
    throw new MalformedDerError('ECDSA signature is not valid DER');
  }
  const sequence = parsed.result;
  if (!(sequence instanceof asn1js.Sequence) || sequence.valueBlock.value.length !== 2) {
    throw new MalformedDerError('ECDSA signature: expected SEQUENCE of two INTEGERs');
  }
  const [r, s] = sequence.valueBlock.value as [asn1js.AsnType, asn1js.AsnType];
  const out = new Uint8Array(2 * size);
  out.set(fixedLength(r, size, 'r'), 0);
  out.set(fixedLength(s, size, 's'), size);
  return out;
}
