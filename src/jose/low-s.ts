// ECDSA signatures are malleable: (r, s) and (r, n − s) both verify. libsecp256k1, and every
// verifier built on it, accepts only the low form, s ≤ n/2 (Bitcoin's BIP-62/BIP-146 rule), while
// Transit, KMS and OpenSSL return either form at random. So ES256K signatures are normalised to
// low-S, whatever the backend. The NIST curves are left alone: no JOSE verifier requires low-S for
// ES256/384/512 (WebCrypto and OpenSSL accept both), and a JWT is identified by its jti, not its
// signature bytes, so malleability gives an attacker nothing there.
import type { JwsAlg } from './algorithms.js';

// Group order n of each curve whose verifiers demand low-S.
const LOW_S_ORDER: Partial<Record<JwsAlg, bigint>> = {
  ES256K: 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n,
};

const toBigInt = (bytes: Uint8Array): bigint => BigInt(`0x${Buffer.from(bytes).toString('hex') || '0'}`);

/** `signature` (JOSE r‖s) with s replaced by n − s when s > n/2, for algs whose verifiers require it. */
export function normaliseSignature(alg: JwsAlg, signature: Uint8Array): Uint8Array {
  const n = LOW_S_ORDER[alg];
  if (n === undefined || signature.length % 2 !== 0) return signature;
  const size = signature.length / 2;
  const s = toBigInt(signature.subarray(size));
  if (s <= n >> 1n) return signature;
  const low = Buffer.from((n - s).toString(16).padStart(size * 2, '0'), 'hex');
  const out = new Uint8Array(signature.length);
  out.set(signature.subarray(0, size), 0);
  out.set(low, size);
  return out;
}

/** True when `signature` (JOSE r‖s) has s ≤ n/2 for `alg`'s curve; always true for algs without the rule. */
export function isLowS(alg: JwsAlg, signature: Uint8Array): boolean {
  const n = LOW_S_ORDER[alg];
  return n === undefined || toBigInt(signature.subarray(signature.length / 2)) <= n >> 1n;
}
