// One validated config from a YAML/JSON file (SIGNET_CONFIG) plus SIGNET_* overrides, or the
// embedded development default when no file is given.
import { readFileSync } from 'node:fs';
import { createHash, randomBytes } from 'node:crypto';
import { ConfigError } from '../errors.js';
import { JWS_ALGS } from '../jose/algorithms.js';
import { DEFAULT_ROTATION_PERIOD_MS, defaultGraceMs, defaultPrepublishMs, timingViolations, type JwksStaleness } from '../keyring/rotation-timing.js';
import { DEFAULT_CLAIM_LIMITS } from '../tokens/claims.js';
import { compileAudiencePattern, compileTextPattern, PatternError } from '../tokens/glob.js';
import { unsafeTextReason } from '../tokens/text.js';
import { checkAlgOnBackend, checkHost, checkLogLevel, checkRedisUrl, checkTlsPair, checkWritableDir, isLoopback, LOG_LEVELS, parseConfigText, source } from './checks.js';
import { Fields, type Raw } from './fields.js';
import { DEFAULT_REVOCATION_KV_MOUNT, trimMount } from '../vault/paths.js';
import type { AdminKey, BackendConfig, CircuitConfig, ClaimLimits, ClientConfig, IdentityProviderConfig, RingConfig, ServerLimits, SignetConfig, WebhookConfig } from '../config-schema.js';
import { CLIENT_IDENTITY_FIELDS, checkIdentityOverlaps, parseClientIdentity, parseIdentityProviders } from './identity.js';
import { DEFAULT_GUARD } from '../resilience/backend-guard.js';
import { parseTracing } from './tracing.js';

export type Env = Readonly<Record<string, string | undefined>>;

const NAME = /^[a-z0-9][a-z0-9_-]{0,63}$/;
export const WEBHOOK_EVENTS = ['key.rotated', 'key.revoked', 'key.integrity'] as const;
const SHA256_HEX = /^[0-9a-f]{64}$/;

export function sha256Hex(value: string): string {
  return createHash('sha256').update(value).digest('hex');
}

/** A new API key: 256 random bits, prefixed so secret scanners can recognise a leaked one. */
export function generateApiKey(): string {
  return `sgt_${randomBytes(32).toString('base64url')}`;
}

function readFileConfig(file: string, env: Env): Raw {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new ConfigError('SIGNET_CONFIG', `cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
  }
  const parsed = parseConfigText(text, file, env); // JSON is YAML too
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new ConfigError('SIGNET_CONFIG', `${file} must contain a mapping at the top level`);
  }
  return parsed as Raw;
}

/** The embedded default: local software keys, one ES256 ring, one dev client. */
function devConfig(env: Env): Raw {
  const host = env.SIGNET_HOST ?? '127.0.0.1';
  const port = env.SIGNET_PORT ?? '8080';
  return {
    server: { host, port },
    backends: { local: { type: 'local', data_dir: env.SIGNET_DATA_DIR ?? '.signet/keys' } },
    rings: [{ name: 'default', backend: 'local', key: 'signet-default', alg: 'ES256', create_if_missing: true }],
  };
}

function parseBackend(name: string, path: string, entry: Raw): BackendConfig {
  if (!NAME.test(name)) throw new ConfigError(path, 'backend names use a-z, 0-9, "-" and "_"');
  const type = new Fields(path, entry, Object.keys(entry)).oneOf('type', ['local', 'vault-transit', 'aws-kms'] as const);
  switch (type) {
    case 'local': {
      const f = Fields.of(path, entry, ['type', 'data_dir', 'allow_in_production']);
      return { type, name, dataDir: f.string('data_dir', '.signet/keys'), allowInProduction: f.boolean('allow_in_production', false) };
    }
    case 'vault-transit': {
      const f = Fields.of(path, entry, ['type', 'address', 'mount', 'namespace', 'token', 'token_file', 'approle', 'timeout_ms', 'ca_file', 'batch_max_size', 'batch_max_in_flight', 'revocation_kv_mount', ...CIRCUIT_FIELDS]);
      let token = f.optionalString('token');
      const tokenFile = f.optionalString('token_file');
      if (tokenFile) token = readSecretFile(f.at('token_file'), tokenFile);
      let approle: { roleId: string; secretId: string; mount: string } | undefined;
      if (f.has('approle')) {
        const a = Fields.of(f.at('approle'), f.value('approle'), ['role_id', 'secret_id', 'secret_id_file', 'mount']);
        const secretIdFile = a.optionalString('secret_id_file');
        approle = {
          roleId: a.string('role_id'),
          secretId: secretIdFile ? readSecretFile(a.at('secret_id_file'), secretIdFile) : a.string('secret_id'),
          mount: a.string('mount', 'approle'),
        };
      }
      if (!token && !approle) {
        throw new ConfigError(f.path, 'needs credentials: set token (e.g. token: ${VAULT_TOKEN}), token_file, or approle.role_id + approle.secret_id');
      }
      return {
        type,
        name,
        address: f.url('address'),
        mount: f.string('mount', 'transit'),
        namespace: f.optionalString('namespace'),
        token,
        approle,
        timeoutMs: f.integer('timeout_ms', 5000, { min: 100, max: 60_000 }),
        caFile: f.optionalString('ca_file'),
        batchMaxSize: f.integer('batch_max_size', 64, { min: 1, max: 1000 }),
        batchMaxInFlight: f.integer('batch_max_in_flight', 2, { min: 1, max: 64 }),
        revocationKvMount: trimMount(f.string('revocation_kv_mount', DEFAULT_REVOCATION_KV_MOUNT)),
        circuit: parseCircuit(f),
      };
    }
    case 'aws-kms': {
      const f = Fields.of(path, entry, ['type', 'region', 'endpoint', 'sign_rate_per_ring', 'max_attempts', 'timeout_ms', ...CIRCUIT_FIELDS]);
      return {
        type,
        name,
        region: f.string('region'),
        endpoint: f.has('endpoint') ? f.url('endpoint') : undefined,
        signRatePerRing: f.integer('sign_rate_per_ring', 500, { min: 0, max: 100_000 }),
        maxAttempts: f.integer('max_attempts', 3, { min: 1, max: 10 }),
        timeoutMs: f.integer('timeout_ms', 5000, { min: 100, max: 60_000 }),
        circuit: parseCircuit(f),
      };
    }
  }
}

const CIRCUIT_FIELDS = ['circuit_failures', 'circuit_cooldown_ms'] as const;

function parseCircuit(f: Fields): CircuitConfig {
  return {
    failureThreshold: f.integer('circuit_failures', DEFAULT_GUARD.failureThreshold, { min: 1, max: 1000 }),
    cooldownMs: f.integer('circuit_cooldown_ms', DEFAULT_GUARD.cooldownMs, { min: 50, max: 600_000 }),
  };
}

const SERVER_LIMIT_FIELDS = [
  'token_deadline_ms',
  'sign_queue_limit',
  'max_connections',
  'keep_alive_timeout_seconds',
  'request_timeout_seconds',
  'drain_timeout_seconds',
  'max_event_loop_delay_ms',
  'max_heap_used_mb',
] as const;

function parseServerLimits(server: Fields): ServerLimits {
  return {
    tokenDeadlineMs: server.integer('token_deadline_ms', 2000, { min: 100, max: 60_000 }),
    signQueueLimit: server.integer('sign_queue_limit', 512, { min: 1, max: 1_000_000 }),
    maxConnections: server.has('max_connections') ? server.integer('max_connections', 0, { min: 16, max: 1_000_000 }) : undefined,
    // Longer than the idle timeout of the proxies in front (60 s for most), so they close first.
    keepAliveTimeoutMs: server.seconds('keep_alive_timeout_seconds', 72, { min: 1, max: 3600 }),
    requestTimeoutMs: server.seconds('request_timeout_seconds', 10, { min: 1, max: 600 }),
    drainTimeoutMs: server.seconds('drain_timeout_seconds', 10, { min: 1, max: 600 }),
    maxEventLoopDelayMs: server.integer('max_event_loop_delay_ms', 1000, { min: 0, max: 60_000 }),
    maxHeapUsedBytes: server.integer('max_heap_used_mb', 0, { min: 0, max: 1_000_000 }) * 1024 * 1024,
  };
}

function parseTls(fields: Fields): { certFile: string; keyFile: string; clientCaFile?: string } {
  const tls = { certFile: fields.string('cert_file'), keyFile: fields.string('key_file'), clientCaFile: fields.optionalString('client_ca_file') };
  // Fail at start-up, naming the field, rather than inside the TLS stack.
  if (tls.clientCaFile) readSecretFile(fields.at('client_ca_file'), tls.clientCaFile);
  checkTlsPair(readSecretFile(fields.at('cert_file'), tls.certFile), readSecretFile(fields.at('key_file'), tls.keyFile), tls.certFile, tls.keyFile);
  return tls;
}

function readSecretFile(field: string, file: string): string {
  try {
    return readFileSync(file, 'utf8').trim();
  } catch (error) {
    throw new ConfigError(field, `cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
  }
}

function parseRing(fields: Fields, publicUrl: string, staleness: JwksStaleness, backends: Map<string, BackendConfig>): RingConfig {
  const name = fields.string('name');
  if (!NAME.test(name)) throw new ConfigError(fields.at('name'), 'ring names use a-z, 0-9, "-" and "_" (max 64)');
  const backend = fields.string('backend');
  if (!backends.has(backend)) {
    throw new ConfigError(fields.at('backend'), `no backend named "${backend}". Defined: ${[...backends.keys()].join(', ') || 'none'}`);
  }
  const maxTokenTtlMs = fields.seconds('max_token_ttl_seconds', 3600, { min: 1, max: 31 * 86400 });
  const prepublishMs = fields.seconds('prepublish_seconds', defaultPrepublishMs(staleness) / 1000);
  const graceMs = fields.seconds('grace_seconds', defaultGraceMs(maxTokenTtlMs, staleness) / 1000);
  const rotationPeriodMs = fields.seconds('rotation_period_seconds', DEFAULT_ROTATION_PERIOD_MS / 1000);
  const alg = fields.oneOf('alg', JWS_ALGS);
  checkAlgOnBackend(alg, backends.get(backend)!, fields.at('alg'));
  const ring: RingConfig = {
    name,
    backend,
    key: fields.string('key', name),
    alg,
    issuer: fields.has('issuer') ? fields.url('issuer') : publicUrl,
    maxTokenTtlMs,
    defaultTokenTtlMs: fields.seconds('default_token_ttl_seconds', Math.min(300, maxTokenTtlMs / 1000), { min: 1, max: maxTokenTtlMs / 1000 }),
    prepublishMs,
    graceMs,
    rotationPeriodMs,
    createIfMissing: fields.boolean('create_if_missing', false),
  };
  checkRotationInvariants(ring, staleness, fields);
  return ring;
}

/** The rules that make rotation invisible to verifiers (README: "Rotation"); the first broken one stops start-up. */
function checkRotationInvariants(ring: RingConfig, staleness: JwksStaleness, fields: Fields): void {
  const [violation] = timingViolations(ring, staleness);
  if (violation) throw new ConfigError(fields.at(violation.field), violation.message);
}

/** A list of policy patterns, each compiled now so a meaningless one stops start-up naming its index. */
function patterns(fields: Fields, key: string, compile: (pattern: string) => unknown, fallback?: string[]): string[] {
  const list = fields.strings(key, fallback);
  for (const [index, pattern] of list.entries()) {
    try {
      compile(pattern);
    } catch (error) {
      if (error instanceof PatternError) throw new ConfigError(`${fields.at(key)}[${index}]`, `${JSON.stringify(pattern)} ${error.message} (README: "Patterns")`);
      throw error;
    }
  }
  return list;
}

function checkClaimName(name: string): void {
  const unsafe = unsafeTextReason(name);
  if (unsafe) throw new PatternError(unsafe);
  if (name.includes('*') && name !== '*') throw new PatternError('claim names are exact; "*" alone allows any non-reserved claim');
}

function parseClaimLimits(fields: Fields): ClaimLimits {
  return {
    maxDepth: fields.integer('max_depth', DEFAULT_CLAIM_LIMITS.maxDepth, { min: 1, max: 32 }),
    maxMembers: fields.integer('max_members', DEFAULT_CLAIM_LIMITS.maxMembers, { min: 1, max: 1024 }),
    maxBytes: fields.integer('max_bytes', DEFAULT_CLAIM_LIMITS.maxBytes, { min: 64, max: 1024 * 1024 }),
  };
}

function parseClient(fields: Fields, rings: Map<string, RingConfig>, providers: IdentityProviderConfig[]): ClientConfig {
  const name = fields.string('name');
  const unsafeName = unsafeTextReason(name); // the default `sub` of this client's tokens
  if (unsafeName) throw new ConfigError(fields.at('name'), `${unsafeName}; a client name is signed as the default subject`);
  const apiKeySha256 = fields.optionalString('api_key_sha256')?.toLowerCase();
  if (apiKeySha256 !== undefined && !SHA256_HEX.test(apiKeySha256)) {
    throw new ConfigError(fields.at('api_key_sha256'), 'must be the 64-hex-digit SHA-256 of the API key (generate one with `signet client-key`)');
  }
  const allowedRings = fields.strings('rings');
  for (const [index, ring] of allowedRings.entries()) {
    if (ring !== '*' && !rings.has(ring)) throw new ConfigError(`${fields.at('rings')}[${index}]`, `no ring named "${ring}"`);
  }
  const maxTtlMs = fields.seconds('max_ttl_seconds', 300, { min: 1, max: 31 * 86400 });
  return {
    name,
    apiKeySha256,
    rings: allowedRings,
    audiences: patterns(fields, 'audiences', compileAudiencePattern),
    subjects: patterns(fields, 'subjects', compileTextPattern, []),
    maxTtlMs,
    claims: patterns(fields, 'claims', checkClaimName, []),
    rateLimitPerSecond: fields.integer('rate_limit_per_second', 0, { max: 1_000_000 }),
    rateLimitBurst: fields.integer('rate_limit_burst', 0, { max: 1_000_000 }),
    identity: parseClientIdentity(fields, providers, apiKeySha256 !== undefined),
  };
}

export function loadConfig(env: Env = process.env): SignetConfig {
  const devMode = !env.SIGNET_CONFIG;
  const raw = devMode ? devConfig(env) : readFileConfig(env.SIGNET_CONFIG!, env);
  const top = Fields.of('', raw, ['server', 'jwks', 'backends', 'rings', 'clients', 'identity_providers', 'reload', 'admin', 'audit', 'webhooks', 'refresh_interval_seconds', 'redis_url', 'state_dir', 'claim_limits']);

  const server = Fields.of('server', top.value('server'), ['host', 'port', 'public_url', 'body_limit_bytes', 'trust_proxy', 'log_level', 'access_log', 'tls', ...SERVER_LIMIT_FIELDS]);
  const host = checkHost(env.SIGNET_HOST ?? server.string('host', '127.0.0.1'), source(env, 'SIGNET_HOST', 'server.host'));
  const port = new Fields('server', { port: env.SIGNET_PORT ?? server.value('port') ?? 8080 }, ['port']).integer('port', 8080, { max: 65535 });
  const urlHost = host.includes(':') ? `[${host}]` : host === '0.0.0.0' ? '127.0.0.1' : host;
  const publicUrl = new Fields('server', { public_url: env.SIGNET_PUBLIC_URL ?? server.value('public_url') ?? `http://${urlHost}:${port}` }, ['public_url']).url('public_url');
  if (devMode && !isLoopback(host) && env.SIGNET_DEV_ALLOW_REMOTE !== 'true') {
    throw new ConfigError(source(env, 'SIGNET_HOST', 'server.host'), `dev mode on ${host} would expose its wildcard dev client (any audience, subject and claim) and the admin API to every host that can reach this one. Listen on 127.0.0.1, write a config file (SIGNET_CONFIG), or set SIGNET_DEV_ALLOW_REMOTE=true if you accept that`);
  }

  const jwks = Fields.of('jwks', top.value('jwks'), ['max_age_seconds', 'stale_while_revalidate_seconds', 'stale_if_error_seconds', 'cors_origins']);
  const maxAgeMs = new Fields('jwks', { max_age_seconds: env.SIGNET_JWKS_MAX_AGE_SECONDS ?? jwks.value('max_age_seconds') }, ['max_age_seconds']).seconds('max_age_seconds', 300, { max: 86400 });
  const refreshIntervalMs = top.seconds('refresh_interval_seconds', 10, { min: 1, max: 3600 });
  const staleness: JwksStaleness = { maxAgeMs, staleWhileRevalidateMs: jwks.seconds('stale_while_revalidate_seconds', 60, { max: 86400 }), refreshIntervalMs };

  const backends = new Map<string, BackendConfig>();
  const backendEntries = top.value('backends') ?? {};
  if (typeof backendEntries !== 'object' || Array.isArray(backendEntries)) throw new ConfigError('backends', 'must be a mapping of backend name to settings');
  for (const [name, entry] of Object.entries(backendEntries as Raw)) {
    if (!entry || typeof entry !== 'object' || Array.isArray(entry)) throw new ConfigError(`backends.${name}`, 'must be a mapping with a type');
    backends.set(name, parseBackend(name, `backends.${name}`, entry as Raw));
  }
  if (backends.size === 0) throw new ConfigError('backends', 'define at least one backend (local, vault-transit or aws-kms)');
  for (const backend of backends.values()) {
    if (backend.type === 'local' && env.NODE_ENV === 'production' && !backend.allowInProduction) {
      throw new ConfigError(`backends.${backend.name}.allow_in_production`, 'the local backend keeps exportable software keys on disk and is refused when NODE_ENV=production. Use vault-transit or aws-kms, or set allow_in_production: true if you accept that risk');
    }
  }

  const rings = new Map<string, RingConfig>();
  for (const [index, entry] of top.list('rings').entries()) {
    const ring = parseRing(
      Fields.of(`rings[${index}]`, entry, ['name', 'backend', 'key', 'alg', 'issuer', 'max_token_ttl_seconds', 'default_token_ttl_seconds', 'prepublish_seconds', 'grace_seconds', 'rotation_period_seconds', 'create_if_missing']),
      publicUrl,
      staleness,
      backends,
    );
    if (rings.has(ring.name)) throw new ConfigError(`rings[${index}].name`, `ring "${ring.name}" is defined twice`);
    rings.set(ring.name, ring);
  }
  if (rings.size === 0) throw new ConfigError('rings', 'define at least one ring');

  const identityProviders = parseIdentityProviders(top.list('identity_providers'));
  const clients: ClientConfig[] = top.list('clients').map((entry, index) =>
    parseClient(Fields.of(`clients[${index}]`, entry, ['name', 'api_key_sha256', 'rings', 'audiences', 'subjects', 'max_ttl_seconds', 'claims', 'rate_limit_per_second', 'rate_limit_burst', ...CLIENT_IDENTITY_FIELDS]), rings, identityProviders),
  );
  const seenKeys = new Set<string>();
  for (const [index, client] of clients.entries()) {
    if (client.apiKeySha256 === undefined) continue;
    if (seenKeys.has(client.apiKeySha256)) throw new ConfigError(`clients[${index}].api_key_sha256`, 'two clients share one API key; give each its own');
    seenKeys.add(client.apiKeySha256);
  }
  for (const [index, client] of clients.entries()) {
    // client_id is the name at /oauth2/token, so it must pick one client.
    if (clients.findIndex((other) => other.name === client.name) !== index) throw new ConfigError(`clients[${index}].name`, `client "${client.name}" is defined twice; names identify clients in OAuth (client_id), logs and metrics`);
  }
  checkIdentityOverlaps(clients.map((client) => ({ name: client.name, identity: client.identity! })));

  let devApiKey: SignetConfig['devApiKey'];
  if (devMode) {
    const value = env.SIGNET_DEV_API_KEY ?? generateApiKey();
    devApiKey = { value, generated: env.SIGNET_DEV_API_KEY === undefined };
    clients.push({ name: 'dev', apiKeySha256: sha256Hex(value), rings: ['*'], audiences: ['*'], subjects: ['*'], maxTtlMs: 3600_000, claims: ['*'], rateLimitPerSecond: 0, rateLimitBurst: 0 });
  }

  const admin = Fields.of('admin', top.value('admin'), ['api_key_sha256', 'keys']);
  const adminKeys: AdminKey[] = [];
  const addAdminKey = (field: string, name: string, hash: string): void => {
    if (!SHA256_HEX.test(hash.toLowerCase())) throw new ConfigError(field, 'must be a 64-hex-digit SHA-256 (generate one with `signet client-key`)');
    if (adminKeys.some((key) => key.name === name)) throw new ConfigError(field, `admin key name "${name}" is used twice; each admin's actions are audited under its name`);
    adminKeys.push({ name, apiKeySha256: hash.toLowerCase() });
  };
  for (const [index, entry] of admin.list('keys').entries()) {
    const key = Fields.of(`admin.keys[${index}]`, entry, ['name', 'api_key_sha256']);
    const name = key.string('name');
    if (!NAME.test(name)) throw new ConfigError(key.at('name'), 'admin key names use a-z, 0-9, "-" and "_" (max 64)');
    addAdminKey(key.at('api_key_sha256'), name, key.string('api_key_sha256'));
  }
  // The older unnamed form: each key is audited as admin-1, admin-2, …
  if (admin.has('api_key_sha256')) admin.strings('api_key_sha256').forEach((hash, index) => addAdminKey(`admin.api_key_sha256[${index}]`, `admin-${index + 1}`, hash));
  if (env.SIGNET_ADMIN_API_KEY_SHA256) addAdminKey('SIGNET_ADMIN_API_KEY_SHA256', 'env-admin', env.SIGNET_ADMIN_API_KEY_SHA256);
  let devAdminKey: SignetConfig['devAdminKey'];
  if (devMode) {
    const value = env.SIGNET_DEV_ADMIN_API_KEY ?? generateApiKey();
    devAdminKey = { value, generated: env.SIGNET_DEV_ADMIN_API_KEY === undefined };
    addAdminKey('SIGNET_DEV_ADMIN_API_KEY', 'dev-admin', sha256Hex(value));
  }

  const audit = Fields.of('audit', top.value('audit'), ['file']);

  const webhooks: WebhookConfig[] = top.list('webhooks').map((entry, index) => {
    const f = Fields.of(`webhooks[${index}]`, entry, ['url', 'events', 'attempts', 'initial_backoff_ms', 'timeout_ms']);
    const events = f.strings('events', [...WEBHOOK_EVENTS]);
    for (const [i, event] of events.entries()) {
      if (!(WEBHOOK_EVENTS as readonly string[]).includes(event)) throw new ConfigError(`webhooks[${index}].events[${i}]`, `must be one of ${WEBHOOK_EVENTS.join(', ')}`);
    }
    return {
      url: f.url('url'),
      events,
      attempts: f.integer('attempts', 6, { min: 1, max: 20 }),
      initialBackoffMs: f.integer('initial_backoff_ms', 1000, { min: 1, max: 600_000 }),
      timeoutMs: f.integer('timeout_ms', 5000, { min: 100, max: 60_000 }),
    };
  });

  const redisUrlValue = env.SIGNET_REDIS_URL ?? top.optionalString('redis_url');
  const redisUrl = redisUrlValue === undefined ? undefined : checkRedisUrl(redisUrlValue, source(env, 'SIGNET_REDIS_URL', 'redis_url'));
  const stateDir = env.SIGNET_STATE_DIR ?? top.string('state_dir', '.signet/state');
  checkWritableDir(stateDir, source(env, 'SIGNET_STATE_DIR', 'state_dir'));

  return {
    server: {
      host,
      port,
      publicUrl,
      bodyLimitBytes: server.integer('body_limit_bytes', 16 * 1024, { min: 1024, max: 1024 * 1024 }),
      trustProxy: server.boolean('trust_proxy', false),
      logLevel: env.SIGNET_LOG_LEVEL === undefined ? server.oneOf('log_level', LOG_LEVELS, 'info') : checkLogLevel(env.SIGNET_LOG_LEVEL, 'SIGNET_LOG_LEVEL'),
      accessLog: env.SIGNET_ACCESS_LOG === undefined ? server.boolean('access_log', false) : new Fields('', { SIGNET_ACCESS_LOG: env.SIGNET_ACCESS_LOG }, ['SIGNET_ACCESS_LOG']).boolean('SIGNET_ACCESS_LOG', false),
      tls: server.has('tls') ? parseTls(Fields.of('server.tls', server.value('tls'), ['cert_file', 'key_file', 'client_ca_file'])) : undefined,
      limits: parseServerLimits(server),
    },
    jwks: {
      maxAgeMs,
      staleWhileRevalidateMs: staleness.staleWhileRevalidateMs,
      staleIfErrorMs: jwks.seconds('stale_if_error_seconds', 86400),
      corsOrigins: jwks.strings('cors_origins', ['*']),
    },
    refreshIntervalMs,
    stateDir,
    redisUrl,
    claimLimits: parseClaimLimits(Fields.of('claim_limits', top.value('claim_limits'), ['max_depth', 'max_members', 'max_bytes'])),
    backends,
    rings,
    clients,
    identityProviders,
    reload: { watch: Fields.of('reload', top.value('reload'), ['watch']).boolean('watch', true) },
    admin: { keys: adminKeys },
    audit: { file: env.SIGNET_AUDIT_FILE ?? audit.optionalString('file') },
    webhooks,
    tracing: parseTracing(env),
    devApiKey,
    devAdminKey,
  };
}
