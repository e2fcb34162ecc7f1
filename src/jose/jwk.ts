// SubjectPublicKeyInfo (DER) → public JWK with an RFC 7638 thumbprint as kid.
// Only public members are ever produced: the function has no path that could emit `d`, `p`, `q`...
import * as asn1js from 'asn1js';
import { calculateJwkThumbprint } from 'jose';
import { UnsupportedKeyError, MalformedDerError } from '../errors.js';
import { ALGORITHMS, type JwsAlg } from './algorithms.js';

export interface PublicJwk {
  kty: 'EC' | 'RSA' | 'OKP';
  use: 'sig';
  alg: JwsAlg;
  kid: string;
  crv?: string;
  x?: string;
  y?: string;
  n?: string;
  e?: string;
}

const OID_RSA = '1.2.840.113549.1.1.1';
const OID_EC = '1.2.840.10045.2.1';
const OID_ED25519 = '1.3.101.112';
const EC_CURVES: Readonly<Record<string, { crv: string; bytes: number }>> = {
  '1.2.840.10045.3.1.7': { crv: 'P-256', bytes: 32 },
  '1.3.132.0.34': { crv: 'P-384', bytes: 48 },
  '1.3.132.0.35': { crv: 'P-521', bytes: 66 },
  '1.3.132.0.10': { crv: 'secp256k1', bytes: 32 },
};

// DER prefix of an Ed25519 SPKI; the 32 raw key bytes follow (RFC 8410 §4).
const ED25519_SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

/** Wraps a raw 32-byte Ed25519 public key (as Transit returns it) in an SPKI. */
export function ed25519RawToSpki(raw: Uint8Array): Uint8Array {
  if (raw.length !== 32) throw new UnsupportedKeyError(`Ed25519 public key must be 32 bytes, got ${raw.length}`);
  return Buffer.concat([ED25519_SPKI_PREFIX, raw]);
}

/** PEM "PUBLIC KEY" → DER bytes. */
export function pemToDer(pem: string): Uint8Array {
  const body = pem.replace(/-----(BEGIN|END) PUBLIC KEY-----/g, '').replace(/\s+/g, '');
  if (!/^[A-Za-z0-9+/]+=*$/.test(body)) throw new MalformedDerError('public key PEM is not base64');
  return Buffer.from(body, 'base64');
}

const b64url = (bytes: Uint8Array): string => Buffer.from(bytes).toString('base64url');

// DER INTEGERs carry a 0x00 pad when the high bit is set; JWK big-endian values must not (RFC 7518 §6.3.1.1).
function unsignedBytes(bytes: Uint8Array): Uint8Array {
  let start = 0;
  while (start < bytes.length - 1 && bytes[start] === 0) start++;
  return bytes.subarray(start);
}

function parseDer(der: Uint8Array, what: string): asn1js.AsnType {
  let parsed: ReturnType<typeof asn1js.fromBER>;
  try {
    parsed = asn1js.fromBER(der);
  } catch (error) {
    // asn1js throws on some malformed inputs instead of flagging them.
    throw new MalformedDerError(`${what} is not valid DER`, { cause: error });
  }
  if (parsed.offset === -1 || parsed.offset !== der.byteLength) {
    throw new MalformedDerError(`${what} is not valid DER`);
  }
  return parsed.result;
}

function sequenceItems(node: unknown, what: string): asn1js.AsnType[] {
  if (!(node instanceof asn1js.Sequence)) throw new MalformedDerError(`${what}: expected a SEQUENCE`);
  return node.valueBlock.value as asn1js.AsnType[];
}

function publicJwkMembers(spki: Uint8Array): Omit<PublicJwk, 'alg' | 'kid' | 'use'> {
  const [algorithm, subjectPublicKey] = sequenceItems(parseDer(spki, 'SubjectPublicKeyInfo'), 'SubjectPublicKeyInfo');
  const [oid, params] = sequenceItems(algorithm, 'AlgorithmIdentifier');
  if (!(oid instanceof asn1js.ObjectIdentifier) || !(subjectPublicKey instanceof asn1js.BitString)) {
    throw new MalformedDerError('SubjectPublicKeyInfo: unexpected structure');
  }
  const keyBytes = new Uint8Array(subjectPublicKey.valueBlock.valueHexView);
  switch (oid.valueBlock.toString()) {
    case OID_RSA: {
      const [n, e] = sequenceItems(parseDer(keyBytes, 'RSAPublicKey'), 'RSAPublicKey');
      if (!(n instanceof asn1js.Integer) || !(e instanceof asn1js.Integer)) {
        throw new MalformedDerError('RSAPublicKey: expected two INTEGERs');
      }
      return { kty: 'RSA', n: b64url(unsignedBytes(n.valueBlock.valueHexView)), e: b64url(unsignedBytes(e.valueBlock.valueHexView)) };
    }
    case OID_EC: {
      const curve = params instanceof asn1js.ObjectIdentifier ? EC_CURVES[params.valueBlock.toString()] : undefined;
      if (!curve) throw new UnsupportedKeyError('EC public key on an unsupported curve');
      // Uncompressed point: 0x04 || x || y.
      if (keyBytes.length !== 1 + 2 * curve.bytes || keyBytes[0] !== 0x04) {
        throw new UnsupportedKeyError(`EC public key is not an uncompressed ${curve.crv} point`);
      }
      return {
        kty: 'EC',
        crv: curve.crv,
        x: b64url(keyBytes.subarray(1, 1 + curve.bytes)),
        y: b64url(keyBytes.subarray(1 + curve.bytes)),
      };
    }
    case OID_ED25519:
      if (keyBytes.length !== 32) throw new UnsupportedKeyError('Ed25519 public key must be 32 bytes');
      return { kty: 'OKP', crv: 'Ed25519', x: b64url(keyBytes) };
    default:
      throw new UnsupportedKeyError(`unsupported public key algorithm ${oid.valueBlock.toString()}`);
  }
}

/**
 * Converts an SPKI to the JWK that is published for `alg`, refusing keys that cannot sign that alg
 * (an RSA key on an ES256 ring would otherwise publish a kid no token can verify against).
 */
export async function spkiToJwk(spki: Uint8Array, alg: JwsAlg): Promise<PublicJwk> {
  const members = publicJwkMembers(spki);
  const spec = ALGORITHMS[alg];
  if (members.kty !== spec.kty || (spec.crv !== undefined && members.crv !== spec.crv)) {
    throw new UnsupportedKeyError(`a ${members.crv ?? members.kty} key cannot sign ${alg}`);
  }
  const kid = await calculateJwkThumbprint(members, 'sha256');
  return publicMembers({ ...members, use: 'sig', alg, kid });
}

/**
 * The allow-list of what may be published, in a fixed order so every replica emits identical
 * bytes. Whatever object comes in, nothing but these members goes out.
 */
export function publicMembers(jwk: PublicJwk): PublicJwk {
  const { kty, use, alg, kid, crv, x, y, n, e } = jwk;
  return Object.fromEntries(Object.entries({ kty, use, alg, kid, crv, x, y, n, e }).filter(([, value]) => value !== undefined)) as unknown as PublicJwk;
}
