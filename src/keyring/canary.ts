// Before a version may sign real tokens, it signs a throw-away token that is verified the way a
// resource server would: by kid, against the JWKS document as served (parsed from its bytes).
import { createPublicKey, verify as nodeVerify } from 'node:crypto';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify, type JSONWebKeySet } from 'jose';
import { ALGORITHMS, NODE_HASH } from '../jose/algorithms.js';
import { signCompact } from '../tokens/issue.js';
import { buildJwksDocument } from './jwks-document.js';
import type { Canary } from './keyring.js';

export const CANARY_AUDIENCE = 'urn:signet:canary';

// jose 6 is WebCrypto-only and has no secp256k1: ES256K is checked with node:crypto instead.
function verifyEs256k(token: string, jwks: JSONWebKeySet): void {
  const { kid } = decodeProtectedHeader(token);
  const jwk = jwks.keys.find((key) => key.kid === kid);
  if (!jwk) throw new Error(`canary: kid ${kid} is not in the published JWKS`);
  const [header, payload, signature] = token.split('.');
  const key = createPublicKey({ key: jwk as Parameters<typeof createPublicKey>[0] & object, format: 'jwk' } as never);
  const ok = nodeVerify(NODE_HASH[ALGORITHMS.ES256K.hash], Buffer.from(`${header}.${payload}`), { key, dsaEncoding: 'ieee-p1363' }, Buffer.from(signature!, 'base64url'));
  if (!ok) throw new Error('canary: ES256K signature does not verify against the published key');
}

export const verifyingCanary: Canary = async (ring, version, publishedJwks) => {
  const now = Math.floor(Date.now() / 1000);
  const { token } = await signCompact(ring, { iss: ring.config.issuer, aud: CANARY_AUDIENCE, iat: now, exp: now + 60 }, 'JWT', version);
  const served = JSON.parse(buildJwksDocument(publishedJwks).body.toString('utf8')) as JSONWebKeySet;
  if (ring.config.alg === 'ES256K') return verifyEs256k(token, served);
  await jwtVerify(token, createLocalJWKSet(served), { issuer: ring.config.issuer, audience: CANARY_AUDIENCE, algorithms: [ring.config.alg] });
};
