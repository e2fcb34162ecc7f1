// Builds and signs a JWT. The header and registered claims come from the gateway alone; the
// caller's claims were filtered by its policy before they reach here.
import { newJti } from '../jose/jti.js';
import type { KeyRing } from '../keyring/keyring.js';
import type { SignCall } from '../backends/backend.js';

export interface IssuedToken {
  token: string;
  kid: string;
  version: number;
  jti: string;
  /** Unix seconds. */
  issuedAt: number;
  expiresAt: number;
}

export interface TokenContent {
  subject: string;
  audience: string | string[];
  ttlMs: number;
  claims: Record<string, unknown>;
  /** The JWT header's typ: `at+jwt` for RFC 9068 access tokens. */
  typ?: 'JWT' | 'at+jwt';
}

export async function issueToken(ring: KeyRing, content: TokenContent, now: number, call?: SignCall): Promise<IssuedToken> {
  const signer = ring.signer();
  const issuedAt = Math.floor(now / 1000);
  // exp never passes the moment the signing key may leave the JWKS (rotation-safe expiry).
  const expiresAt = Math.min(Math.floor((now + content.ttlMs) / 1000), Math.floor(signer.notAfter / 1000));
  const jti = newJti();
  // Registered claims first, then the caller's (already checked to contain no reserved name).
  const payload: Record<string, unknown> = {
    iss: ring.config.issuer,
    sub: content.subject,
    aud: content.audience,
    iat: issuedAt,
    nbf: issuedAt,
    exp: expiresAt,
    jti,
  };
  for (const name in content.claims) payload[name] = content.claims[name];
  const { token, kid, version } = await ring.signJws(payload, content.typ ?? 'JWT', signer.version, call);
  return { token, kid, version, jti, issuedAt, expiresAt };
}
