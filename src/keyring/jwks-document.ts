// The served JWKS bytes and their strong ETag, built only when the published set changes, so
// a GET does no JSON or hashing work: it picks precomputed bytes.
import { createHash } from 'node:crypto';
import type { PublicJwk } from '../jose/jwk.js';

export interface JwksDocument {
  body: Buffer;
  etag: string;
}

export function buildJwksDocument(keys: readonly PublicJwk[]): JwksDocument {
  // Copy only public members in a fixed order: the document is an allow-list, whatever the input.
  const published = keys.map(({ kty, use, alg, kid, crv, x, y, n, e }) =>
    Object.fromEntries(Object.entries({ kty, use, alg, kid, crv, x, y, n, e }).filter(([, value]) => value !== undefined)),
  );
  const body = Buffer.from(JSON.stringify({ keys: published }));
  const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 32)}"`;
  return { body, etag };
}

/**
 * Memoises a document on the identity of its inputs (the ring snapshots it was built from):
 * a request compares a few references, allocates nothing, and returns stored bytes.
 */
export class MemoisedDocument<Input> {
  private inputs: Input[] = [];
  private document?: JwksDocument;

  constructor(private readonly build: (inputs: readonly Input[]) => readonly PublicJwk[]) {}

  /** `current(i)` yields the i-th input of `count`; the document is rebuilt only if one changed. */
  get(count: number, current: (index: number) => Input): JwksDocument {
    let changed = this.document === undefined || count !== this.inputs.length;
    for (let i = 0; i < count && !changed; i++) changed = current(i) !== this.inputs[i];
    if (!changed) return this.document!;
    const inputs = Array.from({ length: count }, (_, i) => current(i));
    const rebuilt = buildJwksDocument(this.build(inputs));
    // Same bytes, same object: keeps ETag comparisons and logs quiet when only timestamps moved.
    if (this.document?.etag !== rebuilt.etag) this.document = rebuilt;
    this.inputs = inputs;
    return this.document!;
  }
}
