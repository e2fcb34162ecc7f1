// The served JWKS bytes and their strong ETag, built only when the published set changes, so
// a GET does no JSON or hashing work: it picks precomputed bytes.
import { createHash } from 'node:crypto';
import { publicMembers, type PublicJwk } from '../jose/jwk.js';
import type { RingSnapshot } from './keyring.js';

export interface JwksDocument {
  body: Buffer;
  etag: string;
}

export function buildJwksDocument(keys: readonly PublicJwk[]): JwksDocument {
  // The document is an allow-list too, whatever the input.
  const body = Buffer.from(JSON.stringify({ keys: keys.map(publicMembers) }));
  const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 32)}"`;
  return { body, etag };
}

/** A served document and the moment its first key leaves the set (null: none scheduled). */
export interface PublishedDocument {
  document: JwksDocument;
  nextUnpublishAt: number | null;
}

/**
 * Memoises a document on the identity of the ring snapshots it was built from: a request
 * compares a few references, allocates nothing, and returns stored bytes and their expiry.
 */
export class MemoisedDocument {
  private inputs: RingSnapshot[] = [];
  private published?: PublishedDocument;

  /** `current(i)` yields the i-th snapshot of `count`; the document is rebuilt only if one changed. */
  get(count: number, current: (index: number) => RingSnapshot): PublishedDocument {
    let changed = this.published === undefined || count !== this.inputs.length;
    for (let i = 0; i < count && !changed; i++) changed = current(i) !== this.inputs[i];
    if (!changed) return this.published!;
    const inputs = Array.from({ length: count }, (_, i) => current(i));
    const rebuilt = buildJwksDocument(inputs.flatMap((snapshot) => snapshot.jwks));
    const leaving = inputs.map((snapshot) => snapshot.view.nextUnpublishAt).filter((at): at is number => at !== null);
    this.published = {
      // Same bytes, same object: keeps ETag comparisons quiet when only timestamps moved.
      document: this.published?.document.etag === rebuilt.etag ? this.published.document : rebuilt,
      nextUnpublishAt: leaving.length > 0 ? Math.min(...leaving) : null,
    };
    this.inputs = inputs;
    return this.published;
  }
}
