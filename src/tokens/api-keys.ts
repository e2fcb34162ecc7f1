// API keys arrive as `Authorization: Bearer <key>` and are only ever compared as SHA-256 hashes,
// in constant time, against every configured hash (no early exit on a match).
import { createHash, timingSafeEqual } from 'node:crypto';
import { UnauthenticatedError } from '../errors.js';

/**
 * The credential of an `Authorization: Bearer <credential>` header, for API keys and workload
 * tokens alike: the scheme is case-insensitive and may be followed by more than one space
 * (RFC 9110 §11.1, §11.4); the credential is visible ASCII.
 */
export function bearerCredential(authorization: string | undefined): string | undefined {
  return /^Bearer +([\x21-\x7e]+)$/i.exec(authorization ?? '')?.[1];
}

/** The SHA-256 of the presented bearer key; `who` names the key in the error ("API", "admin API"). */
export function presentedKeyHash(authorization: string | undefined, who: string): Buffer {
  const key = bearerCredential(authorization);
  if (key === undefined || key.length > 512) throw new UnauthenticatedError(`send the ${who} key as "Authorization: Bearer <key>"`);
  return createHash('sha256').update(key).digest();
}

/** The candidate whose hash equals `presented`, comparing against all of them in constant time. */
export function findByKeyHash<T>(candidates: ReadonlyArray<{ hash: Buffer; value: T }>, presented: Buffer): T | undefined {
  let found: T | undefined;
  for (const candidate of candidates) {
    if (timingSafeEqual(candidate.hash, presented)) found = candidate.value;
  }
  return found;
}
