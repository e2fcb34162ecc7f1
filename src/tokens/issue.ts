// Builds and signs a compact JWS/JWT. The header and registered claims come from the gateway
// alone; the caller's claims were filtered by its policy before they reach here.
import { randomBytes } from 'node:crypto';
import { normaliseSignature } from '../jose/low-s.js';
import type { KeyRing } from '../keyring/keyring.js';

export interface IssuedToken {
  token: string;
  kid: string;
  version: number;
  expiresAt: number;
  issuedAt: number;
}

export interface TokenContent {
  subject: string;
  audience: string | string[];
  ttlMs: number;
  claims: Record<string, unknown>;
}

const b64url = (value: string | Uint8Array): string => Buffer.from(value).toString('base64url');

// jti: 128 random bits. Drawing them from a pool refilled 4 KiB at a time keeps one
// getrandom() call per 256 tokens instead of one per token.
const JTI_BYTES = 16;
let jtiPool = Buffer.alloc(0);
let jtiOffset = 0;
export function newJti(): string {
  if (jtiOffset + JTI_BYTES > jtiPool.length) {
    jtiPool = randomBytes(JTI_BYTES * 256);
    jtiOffset = 0;
  }
  const jti = jtiPool.toString('base64url', jtiOffset, jtiOffset + JTI_BYTES);
  jtiOffset += JTI_BYTES;
  return jti;
}

// The encoded protected header depends only on (alg, kid): encode it once per kid.
const headerCache = new Map<string, string>();
function encodedHeader(alg: string, kid: string, typ: string): string {
  const cacheKey = `${alg}.${kid}.${typ}`;
  let encoded = headerCache.get(cacheKey);
  if (encoded === undefined) {
    encoded = b64url(JSON.stringify({ alg, kid, typ }));
    if (headerCache.size > 1024) headerCache.clear();
    headerCache.set(cacheKey, encoded);
  }
  return encoded;
}

/** Signs `<header>.<payload>` with the ring's signing version and returns the compact form. */
export async function signCompact(ring: KeyRing, payload: Record<string, unknown>, typ: string, version?: number): Promise<{ token: string; kid: string; version: number }> {
  const chosen = version ?? ring.signer().version;
  const kid = ring.kidOf(chosen)!;
  const signingInput = `${encodedHeader(ring.config.alg, kid, typ)}.${b64url(JSON.stringify(payload))}`;
  // Low-S for ES256K from every backend (src/jose/low-s.ts); other algs pass through unchanged.
  const signature = normaliseSignature(ring.config.alg, await ring.backend.sign(ring.ref, chosen, Buffer.from(signingInput, 'ascii')));
  return { token: `${signingInput}.${b64url(signature)}`, kid, version: chosen };
}

export async function issueToken(ring: KeyRing, content: TokenContent, now: number): Promise<IssuedToken> {
  const signer = ring.signer();
  const issuedAt = Math.floor(now / 1000);
  // exp never passes the moment the signing key may leave the JWKS (rotation-safe expiry).
  const expiresAt = Math.min(Math.floor((now + content.ttlMs) / 1000), Math.floor(signer.notAfter / 1000));
  // Registered claims first, then the caller's (already checked to contain no reserved name).
  const payload: Record<string, unknown> = {
    iss: ring.config.issuer,
    sub: content.subject,
    aud: content.audience,
    iat: issuedAt,
    nbf: issuedAt,
    exp: expiresAt,
    jti: newJti(),
  };
  for (const name in content.claims) payload[name] = content.claims[name];
  const { token, kid, version } = await signCompact(ring, payload, 'JWT', signer.version);
  return { token, kid, version, expiresAt, issuedAt };
}
