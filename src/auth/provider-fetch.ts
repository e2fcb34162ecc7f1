// HTTP for identity providers and client key sets: an optional extra CA (a cluster CA) next to
// the system roots. jose's remote JWKS uses the same fetch through its customFetch hook.
import { rootCertificates } from 'node:tls';
import { customFetch, type RemoteJWKSetOptions } from 'jose';
import { Agent, fetch as undiciFetch } from 'undici';

export const PROVIDER_FETCH_TIMEOUT_MS = 5000;

export type JsonFetch = (url: string, init: { headers?: Headers | Record<string, string>; signal?: AbortSignal; redirect?: 'manual' }) => Promise<Response>;

/** A fetch that trusts the system CAs plus `ca`, if given. */
export function providerFetch(ca: string | undefined): JsonFetch {
  if (!ca) return (url, init) => fetch(url, init);
  const dispatcher = new Agent({ connect: { ca: [ca, ...rootCertificates] } });
  return (url, init) => undiciFetch(url, { ...init, dispatcher } as Parameters<typeof undiciFetch>[1]) as unknown as Promise<Response>;
}

/** jose's option that routes its JWKS fetches through `fetcher`. */
export function joseFetchOption(fetcher: JsonFetch): Pick<RemoteJWKSetOptions, typeof customFetch> {
  return { [customFetch]: (url: string, options: { headers: Headers; signal: AbortSignal; redirect: 'manual' }) => fetcher(url, options) };
}
