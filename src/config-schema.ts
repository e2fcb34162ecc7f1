// The typed shape of a validated configuration. Durations are seconds in the file, milliseconds
// here, so nothing downstream multiplies by 1000.
import type { JwsAlg } from './jose/algorithms.js';

export interface LocalBackendConfig {
  type: 'local';
  name: string;
  dataDir: string;
  allowInProduction: boolean;
}

export interface VaultBackendConfig {
  type: 'vault-transit';
  name: string;
  address: string;
  mount: string;
  namespace?: string;
  token?: string;
  approle?: { roleId: string; secretId: string; mount: string };
  timeoutMs: number;
  caFile?: string;
  /** Coalesce concurrent signs into one batch_input call of at most this many inputs (1 = off). */
  batchMaxSize: number;
  batchMaxInFlight: number;
  /** KV v2 mount holding write-once revocation records (signet/revocations/<transit mount>/<key>/<version>). */
  revocationKvMount: string;
  circuit: CircuitConfig;
}

/** The backend's circuit breaker: opens after this many consecutive unreachable/timeout failures, probes after the cool-down. */
export interface CircuitConfig {
  failureThreshold: number;
  cooldownMs: number;
}

export interface AwsKmsBackendConfig {
  type: 'aws-kms';
  name: string;
  region: string;
  endpoint?: string;
  /** Client-side pace limit per ring, in KMS Sign calls per second (0 = unlimited). */
  signRatePerRing: number;
  maxAttempts: number;
  timeoutMs: number;
  circuit: CircuitConfig;
}

export type BackendConfig = LocalBackendConfig | VaultBackendConfig | AwsKmsBackendConfig;

export interface RingConfig {
  name: string;
  backend: string;
  key: string;
  alg: JwsAlg;
  issuer: string;
  maxTokenTtlMs: number;
  defaultTokenTtlMs: number;
  prepublishMs: number;
  graceMs: number;
  rotationPeriodMs: number;
  /** Create the backend key at start-up when it is missing (dev); production keys come from infra. */
  createIfMissing: boolean;
}

export interface ClientConfig {
  name: string;
  /** Lower-case hex SHA-256 of the API key; absent for clients that authenticate otherwise. */
  apiKeySha256?: string;
  /** Workload identities, certificates and keys the client may authenticate with (src/auth). */
  identity?: ClientIdentity;
  rings: string[];
  audiences: string[];
  subjects: string[];
  maxTtlMs: number;
  claims: string[];
  /** Tokens per second this client may request (0 = unlimited), with bursts up to `rateLimitBurst`. */
  rateLimitPerSecond: number;
  rateLimitBurst: number;
}

export interface AdminKey {
  /** Names the admin in the audit trail and in logs. */
  name: string;
  /** Lower-case hex SHA-256 of the admin API key. */
  apiKeySha256: string;
}

export interface AdminConfig {
  keys: AdminKey[];
}

export interface AuditConfig {
  /** A file for the audit records (appended, mode 0600); without one they go to the log stream (stdout). */
  file?: string;
}

export interface WebhookConfig {
  url: string;
  events: string[];
  /** Delivery attempts before giving up (exponential backoff between them). */
  attempts: number;
  initialBackoffMs: number;
  timeoutMs: number;
}

/** What bounds the work, the wait and the connections of one replica (README: Failure modes). */
export interface ServerLimits {
  /** End to end, per token request: queueing, every backend attempt and retry. */
  tokenDeadlineMs: number;
  /** Signs in progress per ring; more are refused with 503 at once. */
  signQueueLimit: number;
  /** Open client connections; undefined: derived from the nofile limit at start-up. */
  maxConnections?: number;
  keepAliveTimeoutMs: number;
  /** Headers and body of a request must arrive within this. */
  requestTimeoutMs: number;
  /** Shutdown: how long in-flight requests may finish before connections are cut. */
  drainTimeoutMs: number;
  /** Token requests are refused (503) while the event loop lags more than this (0 = never). */
  maxEventLoopDelayMs: number;
  /** Token requests are refused (503) while the V8 heap holds more than this (0 = never). */
  maxHeapUsedBytes: number;
}

/** OTLP/HTTP encodings Signet can export traces in (no gRPC). */
export const TRACE_PROTOCOLS = ['http/protobuf', 'http/json'] as const;
export type TraceProtocol = (typeof TRACE_PROTOCOLS)[number];

/** Trace export, from the standard OTEL_* variables (config/tracing.ts); off unless asked for. */
export type TracingConfig = { enabled: false } | { enabled: true; endpoint: string; protocol: TraceProtocol };

export interface SignetConfig {
  server: {
    host: string;
    port: number;
    publicUrl: string;
    bodyLimitBytes: number;
    trustProxy: boolean;
    logLevel: string;
    /** One log line per request (method, route, status, duration, request id, client). */
    accessLog: boolean;
    /** Serve HTTPS directly (PEM files); otherwise terminate TLS in front of Signet. */
    tls?: { certFile: string; keyFile: string; clientCaFile?: string };
    limits: ServerLimits;
  };
  jwks: {
    maxAgeMs: number;
    staleWhileRevalidateMs: number;
    staleIfErrorMs: number;
    corsOrigins: string[];
  };
  /** How often each replica re-reads versions from its backends (also bounds revocation spread). */
  refreshIntervalMs: number;
  redisUrl?: string;
  /** Revocations when no Redis is configured: shared only by processes that share this directory. */
  stateDir: string;
  backends: Map<string, BackendConfig>;
  rings: Map<string, RingConfig>;
  clients: ClientConfig[];
  /** What a caller may put in `claims`: nesting depth, members per object/array, encoded bytes. */
  claimLimits: ClaimLimits;
  /** Issuers whose workload tokens callers may authenticate with. */
  identityProviders: IdentityProviderConfig[];
  /** Reload clients and identity providers when the config file changes (SIGHUP always reloads). */
  reload: { watch: boolean };
  admin: AdminConfig;
  audit: AuditConfig;
  webhooks: WebhookConfig[];
  tracing: TracingConfig;
  /** Dev mode: set when no config file was given; the dev API key to print once. */
  devApiKey?: { value: string; generated: boolean };
  devAdminKey?: { value: string; generated: boolean };
}

/** What a caller may put in `claims` (see tokens/claims.ts). */
export interface ClaimLimits {
  /** Nested objects/arrays, counting `claims` itself: {"a":1} is 1, {"a":{"b":1}} is 2. */
  maxDepth: number;
  /** Members of any one object, or items of any one array. */
  maxMembers: number;
  /** `claims` encoded as JSON, in UTF-8 bytes. */
  maxBytes: number;
}

// Who may call: trusted identity providers and how a client is recognised (see auth/).
export interface IdentityProviderConfig {
  name: string;
  issuer: string;
  /** Where the keys are; without it they are found by OIDC discovery at `<issuer>/.well-known/openid-configuration`. */
  jwksUri?: string;
  audiences: string[];
  algorithms: string[];
  maxTokenAgeMs: number;
  clockSkewMs: number;
  jwksCacheMs: number;
  jwksCooldownMs: number;
  /** PEM of the CA that signs the provider's HTTPS certificate (a cluster CA), in addition to the system CAs. */
  ca?: string;
}

/** A workload token from `provider` whose claims match every pattern. */
export interface IdentityMatcher {
  provider: string;
  claims: Record<string, string>;
}

/** A client certificate with a URI or DNS subject alternative name matching `pattern`. */
export interface CertificateMatcher {
  san: 'uri' | 'dns';
  pattern: string;
}

/** Asymmetric algs only: `none` and HS* (a shared secret, or alg confusion with a public key) are never accepted. */
export const PROVIDER_ALGS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'] as const;

export const ACCESS_TOKEN_FORMATS = ['jwt', 'rfc9068'] as const;

export interface ClientIdentity {
  identities: IdentityMatcher[];
  certificates: CertificateMatcher[];
  /** Public keys for private_key_jwt client assertions: given inline, or fetched. */
  jwks?: { keys: Array<Record<string, unknown>> };
  jwksUri?: string;
  /** The issued `sub` is this claim of the caller's identity (workload token claim; `sub` of a certificate is the matched SAN). */
  subjectFrom?: string;
  /** What /oauth2/token issues: plain JWTs, or RFC 9068 access tokens (`typ: at+jwt`, `client_id`). */
  accessTokenFormat: (typeof ACCESS_TOKEN_FORMATS)[number];
}
