// The Vault HTTP API calls Signet makes, typed, over one undici keep-alive pool. node-vault is no
// longer used: its transport had been replaced by this pool and signing bypassed it, so what
// was left were path templates, schema checks (~190 µs a call) and token renewal reached through
// casts; renewal is the few lines below. A failed call throws with `response.statusCode` and
// `response.body.errors`, which vaultError() maps to typed errors.
import { undiciTransport, type VaultTransport } from './vault-transport.js';

export interface VaultAuth {
  client_token: string;
  lease_duration: number;
  renewable?: boolean;
}

/** A Vault answer: most carry `data`; a few (sys/health) put their fields at the top. */
export interface VaultResponse {
  data?: unknown;
  [field: string]: unknown;
}

/** The calls the Transit backend needs; VaultHttpClient makes them, and so can a test fake. */
export interface VaultClient {
  token: string;
  read(path: string): Promise<VaultResponse>;
  /** LIST; only needed for revocation records in KV. */
  list?(path: string): Promise<VaultResponse>;
  write(path: string, data: unknown): Promise<{ data?: unknown; auth?: VaultAuth } | undefined>;
  /** Same as `write`, cancelled by `signal`, sent with `X-Request-Id: requestId` (the signing hot path). */
  post?(path: string, data: unknown, options?: CallOptions): Promise<{ data?: unknown } | undefined>;
  /** A login that carries a secret in its body: sent without a token. */
  login?(path: string, data: unknown): Promise<{ auth?: VaultAuth } | undefined>;
  /** Renews the token at 80 % of each lease; calls `lost` when it cannot (expired, max TTL, refused). */
  startRenewal?(leaseSeconds: number, lost: () => void): void;
  close?(): Promise<void>;
}

export interface CallOptions {
  signal?: AbortSignal;
  /** The id of the request(s) the call is made for; Vault's audit log records it when told to (README). */
  requestId?: string;
}

/** Renew at this share of the lease, so a slow answer still lands before expiry. */
const RENEW_AT = 0.8;

export interface VaultHttpOptions {
  address: string;
  token?: string;
  namespace?: string;
  timeoutMs: number;
  caFile?: string;
}

export class VaultHttpClient implements VaultClient {
  token: string;
  private readonly transport: VaultTransport;
  private renewal?: NodeJS.Timeout;

  constructor(private readonly options: VaultHttpOptions) {
    this.token = options.token ?? '';
    // One keep-alive pool per backend: a TLS handshake per token would dominate signing latency.
    this.transport = undiciTransport(options.address, { timeoutMs: options.timeoutMs, caFile: options.caFile });
  }

  private headers(withToken = true): Record<string, string> {
    const headers: Record<string, string> = withToken ? { 'x-vault-token': this.token } : {};
    if (this.options.namespace) headers['x-vault-namespace'] = this.options.namespace;
    return headers;
  }

  async read(path: string): Promise<VaultResponse> {
    return ((await this.transport.request('GET', path, this.headers())) ?? {}) as VaultResponse;
  }

  async list(path: string): Promise<VaultResponse> {
    return this.read(`${path}?list=true`);
  }

  async write(path: string, data: unknown): Promise<{ data?: unknown; auth?: VaultAuth } | undefined> {
    return (await this.transport.request('POST', path, this.headers(), data)) as { data?: unknown; auth?: VaultAuth } | undefined;
  }

  async post(path: string, data: unknown, options: CallOptions = {}): Promise<{ data?: unknown } | undefined> {
    const headers = this.headers();
    if (options.requestId !== undefined) headers['x-request-id'] = options.requestId;
    return (await this.transport.request('POST', path, headers, data, options.signal)) as { data?: unknown } | undefined;
  }

  async login(path: string, data: unknown): Promise<{ auth?: VaultAuth } | undefined> {
    return (await this.transport.request('POST', path, this.headers(false), data)) as { auth?: VaultAuth } | undefined;
  }

  startRenewal(leaseSeconds: number, lost: () => void): void {
    clearTimeout(this.renewal);
    if (leaseSeconds <= 0) return;
    this.renewal = setTimeout(() => {
      this.write('auth/token/renew-self', {}).then(
        (response) => {
          const auth = response?.auth;
          // Vault grants less than asked near the token's max TTL; a lease that stops growing ends.
          if (!auth?.renewable || auth.lease_duration <= 0 || auth.lease_duration < leaseSeconds * (1 - RENEW_AT)) lost();
          else this.startRenewal(auth.lease_duration, lost);
        },
        () => lost(),
      );
    }, leaseSeconds * RENEW_AT * 1000);
    this.renewal.unref();
  }

  async close(): Promise<void> {
    clearTimeout(this.renewal);
    await this.transport.close();
  }
}
