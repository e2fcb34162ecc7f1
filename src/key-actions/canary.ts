// Before a version may sign real tokens, it signs a throw-away token that is verified the way a
// resource server would: by kid, against the JWKS document as served (parsed from its bytes).
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify, type JSONWebKeySet } from 'jose';
import { CANARY_AUDIENCE } from '../gateway-audiences.js';
import type { PublicJwk } from '../jose/jwk.js';
import { rawVerifier } from '../jose/verify.js';
import { buildJwksDocument } from '../keyring/jwks-document.js';
import type { Clock } from '../clock.js';
import type { KeyRing } from '../keyring/keyring.js';


/** Proves a version can sign something a verifier accepts; throws with the reason otherwise. */
export type Canary = (ring: KeyRing, version: number, publishedJwks: PublicJwk[]) => Promise<void>;

// jose 6 is WebCrypto-only and has no secp256k1: ES256K is checked with node:crypto instead.
function verifyEs256k(token: string, jwks: JSONWebKeySet): void {
  const { kid } = decodeProtectedHeader(token);
  const jwk = jwks.keys.find((key) => key.kid === kid);
  if (!jwk) throw new Error(`canary: kid ${kid} is not in the published JWKS`);
  const [header, payload, signature] = token.split('.');
  if (!rawVerifier(jwk as PublicJwk, 'ES256K')(Buffer.from(`${header}.${payload}`), Buffer.from(signature!, 'base64url'))) {
    throw new Error('canary: ES256K signature does not verify against the published key');
  }
}

export function verifyingCanary(clock: Clock): Canary {
  return async (ring, version, publishedJwks) => {
    const now = Math.floor(clock() / 1000);
    const { token } = await ring.signJws({ iss: ring.config.issuer, aud: CANARY_AUDIENCE, iat: now, exp: now + 60 }, 'JWT', version);
    const served = JSON.parse(buildJwksDocument(publishedJwks).body.toString('utf8')) as JSONWebKeySet;
    if (ring.config.alg === 'ES256K') return verifyEs256k(token, served);
    await jwtVerify(token, createLocalJWKSet(served), {
      issuer: ring.config.issuer,
      audience: CANARY_AUDIENCE,
      algorithms: [ring.config.alg],
      currentDate: new Date(now * 1000),
    });
  };
}
