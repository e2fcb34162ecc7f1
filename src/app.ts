// buildApp(config): the whole gateway as a Fastify instance, without listening.
import Fastify, { LogController, type FastifyBaseLogger, type FastifyError, type FastifyInstance } from 'fastify';
import pino, { type Logger } from 'pino';
import type { SigningBackend } from './backends/backend.js';
import { createBackend } from './backends/create.js';
import { contractServerOptions, installHttpContract } from './http/contract.js';
import { replyWithError } from './http/error-reply.js';
import type { SignetConfig } from './config-schema.js';
import { verifyingCanary, type Canary } from './key-actions/canary.js';
import { RingRefresher } from './key-actions/refresh.js';
import { RevocationService } from './key-actions/revocation.js';
import { RotationController } from './key-actions/rotation.js';
import { KeyService } from './keyring/key-service.js';
import type { Clock } from './clock.js';
import type { IntegrityEvent, KeyRing } from './keyring/keyring.js';
import { installAccessLog } from './observability/access-log.js';
import { AuditLog } from './observability/audit.js';
import { LineSink } from './observability/line-sink.js';
import { Metrics } from './observability/metrics.js';
import { startTracing } from './observability/tracing.js';
import { REQUEST_ID_HEADER, requestIdOf } from './http/request-id.js';
import { adminRoutes } from './routes/admin.js';
import { healthRoutes, readinessSchema } from './routes/health.js';
import { jwksRoutes } from './routes/jwks.js';
import { metricsRoutes } from './routes/metrics.js';
import { openApiRoutes, registerOpenApi } from './routes/openapi.js';
import { tokenRoutes } from './routes/tokens.js';
import { installHttpGuards, nodeServerOptions, serverTimeouts } from './resilience/http-guards.js';
import { SignGate } from './resilience/sign-gate.js';
import { ringSigningStatus } from './keyring/signing-status.js';
import type { Services } from './services.js';
import type { Coordination } from './state/coordination.js';
import { FileLedgerStore } from './state/file-ledger.js';
import { LocalCoordination } from './state/local-coordination.js';
import type { RedisState } from './state/redis-state.js';
import { CallerDirectory } from './auth/callers.js';
import { httpsOptions } from './auth/certificates.js';
import { oauthRoutes } from './routes/oauth.js';
import { RateLimits } from './auth/rate-limit.js';
import { TokenIssuer } from './tokens/issuer.js';
import { WebhookNotifier } from './webhooks.js';

export interface BuildOptions {
  clock?: Clock;
  logger?: Logger;
  /** Replaces the backends the config names (tests that need a fault a real server cannot show). */
  backends?: Map<string, SigningBackend>;
  canary?: Canary | false;
  /** Scheduled rotation, change events and writing facts back to stores; off for read-only CLI commands. */
  scheduling?: boolean;
  /** Where audit records go; by default config.audit.file, or else the log stream. */
  auditSink?: LineSink;
  /**
   * Whether start-up fails when a ring's keys cannot be loaded (CLI commands, which need them).
   * `signet serve` passes false: it starts not ready, retries with backoff, and serves the JWKS
   * once the keys load, instead of exiting into a crash loop.
   */
  requireKeysAtStart?: boolean;
}

// stdout, shared by the log and (unless audit.file is set) the audit records: one stream, so
// their lines never interleave, flushed once per event-loop turn.
let stdoutSink: LineSink | undefined;
export function logSink(): LineSink {
  stdoutSink ??= new LineSink(1);
  return stdoutSink;
}

/** Pino options shared by the server and the CLI: credentials never reach a log line. */
export function createLogger(level: string, sink: LineSink = logSink()): Logger {
  return pino(
    {
      level,
      // Fixed paths only: wildcard paths made redaction ~2% of the token path's CPU. Signet never
      // logs tokens, keys or secrets; this is the second wall for request headers.
      redact: { paths: ['req.headers.authorization', 'req.headers["x-vault-token"]'], censor: '[redacted]' },
    },
    sink,
  );
}

/** How long start-up waits for Redis before loading from the other stores. */
const REDIS_CONNECT_WAIT_MS = 2000;

async function connectRedis(config: SignetConfig): Promise<RedisState | undefined> {
  if (!config.redisUrl) return undefined;
  const { RedisState } = await import('./state/redis-state.js'); // ioredis costs ~13 MB RSS: load it only when used
  return new RedisState(config.redisUrl);
}

export async function buildApp(config: SignetConfig, options: BuildOptions = {}): Promise<FastifyInstance> {
  const logger = options.logger ?? createLogger(config.server.logLevel);
  const clock = options.clock ?? Date.now;
  const backends = options.backends ?? new Map(await Promise.all([...config.backends.values()].map(async (b) => [b.name, await createBackend(b)] as const)));
  const metrics = new Metrics();
  const durable = new FileLedgerStore(config.stateDir);
  const redis = await connectRedis(config);
  const coordination: Coordination = redis ?? new LocalCoordination();
  if (redis) redis.onLockUnavailable = (name, error) => logger.warn({ lock: name, err: (error as Error).message }, 'Redis is unreachable: going on without the shared lock (the backend is read again before anything is created)');
  if (!redis && [...config.backends.values()].some((backend) => backend.type !== 'local')) {
    logger.warn({ stateDir: config.stateDir }, 'no redis_url: revocations reach other replicas only at their next refresh, and the rotation lock is in-process; configure Redis when running several replicas');
  }
  const signGate = new SignGate(config.server.limits.signQueueLimit);
  const canary = options.canary === false ? undefined : (options.canary ?? verifyingCanary(clock));
  const keys = new KeyService({ config, backends, clock, requiresCanary: canary !== undefined });
  const webhooks = new WebhookNotifier(config.webhooks, logger, clock);
  const writeBack = options.scheduling !== false;
  const refresh = new RingRefresher({
    keys,
    durable,
    shared: redis ? [redis] : [],
    generation: redis ? () => redis.checkGeneration() : undefined,
    connect: redis ? () => redis.connected(REDIS_CONNECT_WAIT_MS) : undefined,
    canary,
    logger,
    metrics,
    intervalMs: config.refreshIntervalMs,
    writeBack,
  });
  const rotation = new RotationController(refresh, coordination, metrics, logger, webhooks, clock);
  const revocation = new RevocationService({ keys, refresher: refresh, rotation, coordination, durable, shared: redis ? [redis] : [], metrics, logger, webhooks, clock });
  const ownAuditFile = !options.auditSink && config.audit.file ? LineSink.open(config.audit.file) : undefined;
  const auditSink = options.auditSink ?? ownAuditFile ?? logSink();
  const audit = new AuditLog(auditSink, clock, metrics);

  const onIntegrity = (ring: KeyRing, event: IntegrityEvent): void => {
    metrics.integrityEvents.inc({ ring: event.ring, kind: event.kind });
    logger.error({ ...event }, 'key integrity: the backend key of a published version changed, vanished or signed something that does not verify; that version never signs again');
    void webhooks.notify(ring, 'key.integrity', { version: event.version, kind: event.kind, kid: event.publishedKid, ...(event.foundKid ? { found_kid: event.foundKid } : {}) });
    if (event.kind === 'signature_mismatch') void refresh.refreshRing(ring).catch(() => undefined);
  };
  for (const ring of keys.rings.values()) ring.onIntegrity((event) => onIntegrity(ring, event));
  metrics.beforeScrape(() => {
    for (const ring of keys.rings.values()) {
      metrics.rotationPeriod.set({ ring: ring.name }, ring.policy.rotationPeriodMs / 1000);
      if (!ring.loaded) continue;
      const { view, versions } = ring.current();
      for (const state of ['pending', 'active', 'retiring', 'retired', 'revoked'] as const) {
        metrics.versionState.set({ ring: ring.name, state }, view.versions.filter((v) => v.state === state).length);
      }
      const signing = versions.find((v) => v.version === view.signing);
      if (signing) metrics.signingVersionAge.set({ ring: ring.name }, (clock() - signing.createdAt.getTime()) / 1000);
    }
  });
  // Backend health: the circuit, whether it answers, each call timed; and each ring's sign queue
  // and whether it can sign, from the same answer /readyz/signing gives.
  for (const [name, backend] of backends) {
    backend.guard?.observe((operation, outcome, seconds) => metrics.backendRequestSeconds.observe({ backend: name, operation, outcome }, seconds));
  }
  metrics.beforeScrape(() => {
    for (const [name, backend] of backends) {
      metrics.backendCircuitState.set({ backend: name }, backend.guard?.circuitState ?? 0);
      metrics.backendUp.set({ backend: name }, backend.guard?.up === false ? 0 : 1);
    }
    for (const ring of keys.rings.values()) {
      metrics.ringCanSign.set({ ring: ring.name }, ringSigningStatus(ring).can_sign ? 1 : 0);
      metrics.signQueueDepth.set({ ring: ring.name }, signGate.depth(ring.name));
    }
  });

  const tls = config.server.tls;
  const contract = contractServerOptions(logger, metrics);
  // For Node's http or https server: the contract's (requireHostHeader) and the guards' options.
  const nodeServer = { ...contract.http, ...nodeServerOptions(config.server.limits) };
  const app = Fastify({
    ...(tls ? { https: { ...httpsOptions(tls), ...nodeServer } } : {}),
    loggerInstance: logger as FastifyBaseLogger,
    // One audit line per token instead of two framework lines per request.
    logController: new LogController({ disableRequestLogging: true }),
    // No per-request child logger (pino child() on every request, JWKS GETs included): lines that
    // concern a request carry `reqId: request.id` explicitly.
    childLoggerFactory: (logger) => logger,
    // The caller's x-request-id when it is a safe token, else a random id (http/request-id.ts).
    genReqId: requestIdOf,
    bodyLimit: config.server.bodyLimitBytes,
    trustProxy: config.server.trustProxy,
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, useDefaults: false, allErrors: false } },
    // Requests that arrive while draining get ERR_SHUTTING_DOWN in the documented body (resilience/http-guards.ts).
    ...serverTimeouts(config.server.limits),
    ...contract,
    http: nodeServer,
  });

  // Every response says which request it answers, errors included (error-reply.ts sets it too, for
  // failures that skip the hooks). First hook, so a hook that refuses the request comes after it.
  app.addHook('onRequest', (request, reply, done) => {
    reply.header(REQUEST_ID_HEADER, request.id);
    done();
  });
  // Before any route: @fastify/otel wraps the routes registered after it.
  const tracing = config.tracing.enabled ? await startTracing(config.tracing) : undefined;
  if (tracing) await app.register(tracing.fastifyPlugin());
  installAccessLog(app, logger, config.server.accessLog);

  const clients = new CallerDirectory(config, metrics.registry, clock);
  const rateLimits = new RateLimits(redis, logger);
  const issuer = new TokenIssuer({ keys, signGate, metrics, audit, clock, deadlineMs: config.server.limits.tokenDeadlineMs });
  const services: Services = { config, keys, refresh, clients, rateLimits, issuer, metrics, clock, rotation, revocation, audit, signGate };
  app.decorate('signet', services);
  // JSON only: Fastify's default text/plain parser would turn a form post into a 400 about shape.
  app.removeContentTypeParser('text/plain');
  app.addSchema(readinessSchema);

  // Unmatched URLs share one label, so scanners cannot grow the label set without bound.
  app.addHook('onResponse', (request, reply, done) => {
    metrics.observeHttp(request.method, request.routeOptions.url ?? 'unmatched', reply.statusCode, reply.elapsedTime / 1000);
    done();
  });

  if (tls) {
    // Served over TLS: tell browsers and well-behaved clients never to downgrade.
    app.addHook('onSend', async (_request, reply) => {
      reply.header('strict-transport-security', 'max-age=31536000; includeSubDomains');
    });
  }
  // Typed errors → status and the documented body, in one place; 5xx details go to the log only.
  app.setErrorHandler((error: FastifyError, request, reply) => replyWithError(request, reply, error, metrics));
  installHttpContract(app, metrics);
  await registerOpenApi(app);

  await installHttpGuards(app, config.server.limits);
  await app.register(healthRoutes);
  await app.register(metricsRoutes);
  await app.register(jwksRoutes);
  await app.register(tokenRoutes);
  await app.register(oauthRoutes);
  await app.register(adminRoutes);
  await app.register(openApiRoutes);

  app.addHook('onReady', async () => {
    if (options.scheduling !== false) {
      rotation.start();
      revocation.listen();
    }
    const requireKeys = options.requireKeysAtStart !== false;
    await refresh.start({ requireKeys });
    // A replacement the first load called for (nothing could sign) comes before listening, within the token deadline.
    if (options.scheduling !== false) await rotation.settled(config.server.limits.tokenDeadlineMs);
    // Say loudly, once at start-up, when a key is weaker than non-exportable.
    const auditKeys = async (): Promise<void> => {
      for (const [ring, findings] of await keys.auditKeys()) {
        metrics.keyAuditFindings.set({ ring }, findings.length);
        for (const finding of findings) logger.warn({ ring }, finding);
      }
    };
    // A backend that is down must not hold up listening (and serving the JWKS once keys load).
    if (requireKeys) await auditKeys();
    else void auditKeys();
  });
  app.addHook('onClose', async () => {
    refresh.stop();
    webhooks.close();
    await coordination.close();
    ownAuditFile?.close();
    auditSink.flushSync();
    await Promise.all([...backends.values()].map((backend) => backend.close()));
    // Last: every span of this app has ended by now (shutdown drains requests first).
    await tracing?.flush();
  });
  return app;
}
