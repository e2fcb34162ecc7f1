// Before a version may sign real tokens, it signs a throw-away token that is verified the way a
// resource server would: by kid, against the JWKS document as served (parsed from its bytes).
import { createLocalJWKSet, jwtVerify } from 'jose';
import { signCompact } from '../tokens/issue.js';
import { buildJwksDocument } from './jwks-document.js';
import type { Canary } from './keyring.js';

export const CANARY_AUDIENCE = 'urn:signet:canary';

export const verifyingCanary: Canary = async (ring, version, publishedJwks) => {
  const now = Math.floor(Date.now() / 1000);
  const { token } = await signCompact(ring, { iss: ring.config.issuer, aud: CANARY_AUDIENCE, iat: now, exp: now + 60 }, 'JWT', version);
  const served = JSON.parse(buildJwksDocument(publishedJwks).body.toString('utf8')) as Parameters<typeof createLocalJWKSet>[0];
  await jwtVerify(token, createLocalJWKSet(served), {
    issuer: ring.config.issuer,
    audience: CANARY_AUDIENCE,
    algorithms: [ring.config.alg],
  });
};
