// How a resource server verifies: jose's createRemoteJWKSet against the gateway's JWKS URL.
// jose 6 is WebCrypto-only and has no secp256k1, so ES256K is verified with jose 5's Node build,
// which a Node resource server can use today.
import * as jose6 from 'jose';
import * as jose5 from 'jose-v5';
import type { JwsAlg } from '../../src/jose/algorithms.js';

export interface RemoteVerifier {
  compactVerify(jws: string): Promise<{ payload: Uint8Array; protectedHeader: { kid?: string; alg?: string } }>;
  jwtVerify(jwt: string, options: { issuer?: string; audience?: string | string[] }): Promise<{ payload: Record<string, unknown>; protectedHeader: { kid?: string; alg?: string } }>;
}

export function remoteVerifier(jwksUrl: string, alg: JwsAlg): RemoteVerifier {
  const url = new URL(jwksUrl);
  if (alg === 'ES256K') {
    const keys = jose5.createRemoteJWKSet(url);
    return {
      compactVerify: (jws) => jose5.compactVerify(jws, keys, { algorithms: [alg] }),
      jwtVerify: (jwt, options) => jose5.jwtVerify(jwt, keys, { ...options, algorithms: [alg] }),
    };
  }
  const keys = jose6.createRemoteJWKSet(url);
  return {
    compactVerify: (jws) => jose6.compactVerify(jws, keys, { algorithms: [alg] }),
    jwtVerify: (jwt, options) => jose6.jwtVerify(jwt, keys, { ...options, algorithms: [alg] }),
  };
}
