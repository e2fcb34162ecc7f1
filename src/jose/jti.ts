// jti: 128 random bits. Drawing them from a pool refilled 4 KiB at a time keeps one
// getrandom() call per 256 tokens instead of one per token.
import { randomBytes } from 'node:crypto';

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
