// signet/client: a token source for Node callers of POST /v1/tokens. It caches each token until a
// fraction of its lifetime has passed, makes one request when many callers want the same token at
// once, retries 429/503 after Retry-After (plus jitter), and authenticates with an API key, a
// workload token file (re-read for every request, as projected service-account tokens rotate), or
// a client certificate. Node built-ins only: nothing of the gateway is loaded.
import { readFile } from 'node:fs/promises';
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';

export interface TokenSourceOptions {
  /** Signet's base URL, e.g. https://signet.internal:8443 */
  url: string;
  /** Sent as `Authorization: Bearer <apiKey>`. */
  apiKey?: string;
  /** A file holding a workload token (e.g. /var/run/secrets/tokens/signet); read again for every request. */
  tokenFile?: string;
  /** mTLS: client certificate and key (PEM); `ca` also trusts a private CA for Signet's own certificate. */
  tls?: { cert?: string | Buffer; key?: string | Buffer; ca?: string | Buffer };
  /** Refresh when this fraction of a token's lifetime has passed (default 0.8). */
  refreshAt?: number;
  /** Retries of 429, 503 and network errors before giving up (default 4). */
  maxRetries?: number;
  /** Per-request timeout in ms (default 10000). */
  timeoutMs?: number;
}

export interface TokenRequest {
  audience: string | string[];
  subject?: string;
  claims?: Record<string, unknown>;
  ttlSeconds?: number;
  /** Ring name; the client's first ring by default. */
  key?: string;
}

export interface IssuedToken {
  token: string;
  kid: string;
  /** Unix seconds. */
  expiresAt: number;
}

export interface TokenSource {
  /** A token for the request: cached, or fetched (once for all concurrent callers). */
  getToken(request: TokenRequest): Promise<string>;
  getIssuedToken(request: TokenRequest): Promise<IssuedToken>;
  /** Forgets cached tokens and closes kept-alive connections. */
  close(): void;
}

/** Signet answered with an error; `code` is its stable ERR_… code. */
export class SignetClientError extends Error {
  constructor(
    message: string,
    readonly status: number | undefined,
    readonly code: string,
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
    this.name = 'SignetClientError';
  }
}

const RETRYABLE_STATUS = new Set([429, 503]);
const BASE_BACKOFF_MS = 200;
const MAX_BACKOFF_MS = 10_000;
/** A cached token is still handed out after a failed refresh until this close to its expiry. */
const EXPIRY_MARGIN_MS = 5_000;

interface CachedToken {
  issued: IssuedToken;
  refreshAtMs: number;
}

// Claims in any key order are one cache entry.
function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical);
  if (value && typeof value === 'object') return Object.fromEntries(Object.keys(value).sort().map((key) => [key, canonical((value as Record<string, unknown>)[key])]));
  return value;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export function createTokenSource(options: TokenSourceOptions): TokenSource {
  const base = new URL(options.url);
  const secure = base.protocol === 'https:';
  const refreshAt = options.refreshAt ?? 0.8;
  if (!(refreshAt > 0 && refreshAt <= 1)) throw new RangeError('refreshAt must be a fraction of the lifetime, in (0, 1]');
  if ([options.apiKey, options.tokenFile].filter((v) => v !== undefined).length > 1) throw new TypeError('give apiKey or tokenFile, not both');
  if (options.apiKey === undefined && options.tokenFile === undefined && !options.tls?.cert) throw new TypeError('give apiKey, tokenFile or tls.cert + tls.key');
  const maxRetries = options.maxRetries ?? 4;
  const timeoutMs = options.timeoutMs ?? 10_000;
  const agent = secure ? new HttpsAgent({ keepAlive: true, ...options.tls }) : new HttpAgent({ keepAlive: true });
  const cache = new Map<string, CachedToken>();
  const inFlight = new Map<string, Promise<IssuedToken>>();

  async function authorization(): Promise<string | undefined> {
    if (options.apiKey !== undefined) return `Bearer ${options.apiKey}`;
    if (options.tokenFile !== undefined) return `Bearer ${(await readFile(options.tokenFile, 'utf8')).trim()}`;
    return undefined; // the client certificate authenticates
  }

  function post(body: string, auth: string | undefined): Promise<{ status: number; retryAfter?: string; json: unknown }> {
    return new Promise((resolve, reject) => {
      const send = secure ? httpsRequest : httpRequest;
      const req = send(
        new URL('/v1/tokens', base),
        { method: 'POST', agent, timeout: timeoutMs, headers: { 'content-type': 'application/json', ...(auth ? { authorization: auth } : {}) } },
        (res: IncomingMessage) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('error', reject);
          res.on('end', () => {
            let json: unknown;
            try {
              json = JSON.parse(Buffer.concat(chunks).toString('utf8'));
            } catch {
              json = undefined;
            }
            const retryAfter = res.headers['retry-after'];
            resolve({ status: res.statusCode ?? 0, ...(typeof retryAfter === 'string' ? { retryAfter } : {}), json });
          });
        },
      );
      req.on('timeout', () => req.destroy(new Error(`no answer from Signet within ${timeoutMs} ms`)));
      req.on('error', reject);
      req.end(body);
    });
  }

  // Retry-After is the floor; up to a quarter more, at random, so many clients do not return at once.
  function delayFor(attempt: number, retryAfter: string | undefined): number {
    const seconds = retryAfter !== undefined && /^\d+$/.test(retryAfter) ? Number(retryAfter) : undefined;
    const floor = seconds !== undefined ? seconds * 1000 : Math.min(MAX_BACKOFF_MS, BASE_BACKOFF_MS * 2 ** attempt);
    return floor + Math.random() * floor * 0.25;
  }

  async function fetchToken(request: TokenRequest): Promise<IssuedToken> {
    const body = JSON.stringify({
      audience: request.audience,
      ...(request.subject !== undefined ? { subject: request.subject } : {}),
      ...(request.claims !== undefined ? { claims: request.claims } : {}),
      ...(request.ttlSeconds !== undefined ? { ttl_seconds: request.ttlSeconds } : {}),
      ...(request.key !== undefined ? { key: request.key } : {}),
    });
    for (let attempt = 0; ; attempt++) {
      let answer: { status: number; retryAfter?: string; json: unknown };
      try {
        answer = await post(body, await authorization());
      } catch (error) {
        if (attempt >= maxRetries) throw new SignetClientError(`Signet could not be reached: ${(error as Error).message}`, undefined, 'ERR_NETWORK');
        await sleep(delayFor(attempt, undefined));
        continue;
      }
      const json = answer.json as { token?: string; kid?: string; expires_at?: number; error?: { code?: string; message?: string } } | undefined;
      if (answer.status === 200 && typeof json?.token === 'string' && typeof json.expires_at === 'number') {
        return { token: json.token, kid: json.kid ?? '', expiresAt: json.expires_at };
      }
      if (RETRYABLE_STATUS.has(answer.status) && attempt < maxRetries) {
        await sleep(delayFor(attempt, answer.retryAfter));
        continue;
      }
      const retryAfter = answer.retryAfter !== undefined ? Number(answer.retryAfter) : undefined;
      throw new SignetClientError(json?.error?.message ?? `Signet answered HTTP ${answer.status}`, answer.status, json?.error?.code ?? 'ERR_UNEXPECTED_RESPONSE', retryAfter);
    }
  }

  async function getIssuedToken(request: TokenRequest): Promise<IssuedToken> {
    const key = JSON.stringify(canonical([request.audience, request.subject, request.claims, request.ttlSeconds, request.key]));
    const cached = cache.get(key);
    if (cached && Date.now() < cached.refreshAtMs) return cached.issued;
    let flight = inFlight.get(key);
    if (!flight) {
      const startedAt = Date.now();
      flight = fetchToken(request)
        .then((issued) => {
          const lifetimeMs = issued.expiresAt * 1000 - startedAt;
          cache.set(key, { issued, refreshAtMs: startedAt + lifetimeMs * refreshAt });
          return issued;
        })
        .finally(() => inFlight.delete(key));
      inFlight.set(key, flight);
    }
    try {
      return await flight;
    } catch (error) {
      // A refresh that failed while the old token is still good: keep using it.
      if (cached && Date.now() < cached.issued.expiresAt * 1000 - EXPIRY_MARGIN_MS) return cached.issued;
      throw error;
    }
  }

  return {
    getIssuedToken,
    getToken: async (request) => (await getIssuedToken(request)).token,
    close: () => {
      cache.clear();
      agent.destroy();
    },
  };
}
