// Every environment variable Signet reads, in one table: `signet --help` and the README list it,
// and test/cli.test.ts checks it against every SIGNET_ name in src/, both ways.

export interface EnvironmentVariable {
  readonly name: string;
  /** What it sets, and the config field it overrides if any. */
  readonly meaning: string;
}

export const ENVIRONMENT: readonly EnvironmentVariable[] = [
  { name: 'SIGNET_CONFIG', meaning: 'config file, YAML or JSON; unset: dev mode (local keys, a dev client)' },
  { name: 'SIGNET_HOST', meaning: 'listen address (server.host, default 127.0.0.1)' },
  { name: 'SIGNET_PORT', meaning: 'listen port (server.port, default 8080)' },
  { name: 'SIGNET_PUBLIC_URL', meaning: 'base of the issuer and jwks_uri (server.public_url)' },
  { name: 'SIGNET_LOG_LEVEL', meaning: 'server.log_level (operator commands: "error" unless set)' },
  { name: 'SIGNET_ACCESS_LOG', meaning: '"true": one log line per request (server.access_log)' },
  { name: 'SIGNET_JWKS_MAX_AGE_SECONDS', meaning: 'JWKS cache lifetime (jwks.max_age_seconds)' },
  { name: 'SIGNET_STATE_DIR', meaning: "this replica's durable ledger: revocations, signing facts, key pins (state_dir)" },
  { name: 'SIGNET_REDIS_URL', meaning: 'Redis shared by the replicas (redis_url)' },
  { name: 'SIGNET_AUDIT_FILE', meaning: 'token audit trail, a JSON line per token (audit.file)' },
  { name: 'SIGNET_ADMIN_API_KEY_SHA256', meaning: 'one more admin key\'s SHA-256, audited as "env-admin"' },
  { name: 'SIGNET_DEV_API_KEY', meaning: 'dev mode: the dev client\'s key (default: new each run)' },
  { name: 'SIGNET_DEV_ADMIN_API_KEY', meaning: 'dev mode: the admin key (default: new each run)' },
  { name: 'SIGNET_DEV_ALLOW_REMOTE', meaning: 'dev mode: "true" allows a non-loopback SIGNET_HOST' },
  { name: 'SIGNET_DATA_DIR', meaning: 'dev mode: local key directory (default .signet/keys)' },
  { name: 'NODE_ENV', meaning: '"production" refuses the local backend (allow_in_production)' },
  { name: 'OTEL_EXPORTER_OTLP_ENDPOINT', meaning: 'tracing on: OTLP/HTTP collector base URL (/v1/traces is added)' },
  { name: 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT', meaning: 'tracing on: the full traces URL (wins over the base one)' },
  { name: 'OTEL_TRACES_EXPORTER', meaning: '"otlp" turns tracing on (default endpoint localhost:4318); "none" off' },
  { name: 'OTEL_SDK_DISABLED', meaning: '"true": tracing off whatever else is set' },
  { name: 'OTEL_EXPORTER_OTLP_PROTOCOL', meaning: 'http/protobuf (default) or http/json; also OTEL_EXPORTER_OTLP_TRACES_PROTOCOL' },
  { name: 'OTEL_SERVICE_NAME', meaning: 'service.name of the spans (default "signet"); other OTEL_* SDK variables apply' },
];
