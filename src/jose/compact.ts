// Compact JWS: `<header>.<payload>.<signature>`, signed by whatever signs the signing input.
// The protected header is always exactly {alg, kid, typ}: nothing a caller sends reaches it.

export type SignInput = (signingInput: Uint8Array) => Promise<Uint8Array>;

const b64url = (value: string | Uint8Array): string => Buffer.from(value).toString('base64url');

// The encoded protected header depends only on (alg, kid, typ): encode it once per kid.
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

/** Signs `<header>.<payload>` and returns the compact serialization. */
export async function signCompact(alg: string, kid: string, typ: string, payload: Record<string, unknown>, sign: SignInput): Promise<string> {
  const signingInput = `${encodedHeader(alg, kid, typ)}.${b64url(JSON.stringify(payload))}`;
  const signature = await sign(Buffer.from(signingInput, 'ascii'));
  return `${signingInput}.${b64url(signature)}`;
}
