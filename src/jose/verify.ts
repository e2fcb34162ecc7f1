// Verifies a raw JWS signature with node:crypto, for checks inside the gateway (a backend's
// signatures against the published key, the ES256K canary): synchronous and allocation-light,
// where jose's async WebCrypto path would cost a promise per check and has no secp256k1.
import { constants, createPublicKey, verify, type KeyObject } from 'node:crypto';
import { ALGORITHMS, NODE_HASH, type JwsAlg } from './algorithms.js';
import type { PublicJwk } from './jwk.js';

export type RawVerifier = (signingInput: Uint8Array, signature: Uint8Array) => boolean;

/** A verifier for one public key and alg. */
export function rawVerifier(jwk: PublicJwk, alg: JwsAlg): RawVerifier {
  const key: KeyObject = createPublicKey({ key: { ...jwk }, format: 'jwk' });
  const spec = ALGORITHMS[alg];
  const hash = spec.kty === 'OKP' ? null : NODE_HASH[spec.hash]!;
  const options =
    spec.kty === 'EC'
      ? { key, dsaEncoding: 'ieee-p1363' as const }
      : spec.rsaPadding === 'pss'
        ? { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_DIGEST }
        : { key };
  return (signingInput, signature) => {
    try {
      return verify(hash, signingInput, options, signature);
    } catch {
      return false; // malformed signature bytes
    }
  };
}
