// buildApp(config): the whole gateway as a Fastify instance, without listening.
import { readFileSync } from 'node:fs';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyError, type FastifyInstance } from 'fastify';
import { contractServerOptions, installHttpContract } from './http/contract.js';
import { replyWithError } from './http/error-reply.js';
import { openApiRoutes, registerOpenApi } from './routes/openapi.js';
import pino, { type Logger } from 'pino';
import type { SigningBackend } from './backends/backend.js';
import { createBackend } from './backends/create.js';
import type { SignetConfig } from './config/schema.js';
import { verifyingCanary } from './keyring/canary.js';
import { KeyService } from './keyring/key-service.js';
import type { Canary, Clock } from './keyring/keyring.js';
import { RotationController } from './keyring/rotation.js';
import { adminRoutes } from './routes/admin.js';
import { FileSharedState } from './state/file-state.js';
import type { SharedState } from './state/shared-state.js';
import { WebhookNotifier } from './webhooks.js';
import { Metrics } from './observability/metrics.js';
import { healthRoutes, readinessSchema } from './routes/health.js';
import { jwksRoutes } from './routes/jwks.js';
import { metricsRoutes } from './routes/metrics.js';
import { tokenRoutes } from './routes/tokens.js';
import type { Services } from './services.js';
import { ClientDirectory } from './tokens/policy.js';

export interface BuildOptions {
  clock?: Clock;
  logger?: Logger;
  /** Replaces the backends the config names (tests that need a fault a real server cannot show). */
  backends?: Map<string, SigningBackend>;
  state?: SharedState;
  canary?: Canary | false;
  /** Scheduled rotation and change events; off for read-only CLI commands. */
  scheduling?: boolean;
}

async function createSharedState(config: SignetConfig, logger: Logger): Promise<SharedState> {
  if (config.redisUrl) {
    const { RedisSharedState } = await import('./state/redis-state.js'); // ioredis costs ~13 MB RSS: load it only when used
    return new RedisSharedState(config.redisUrl);
  }
  const remote = [...config.backends.values()].some((backend) => backend.type !== 'local');
  if (remote) {
    logger.warn({ stateDir: config.stateDir }, 'no redis_url: revocations and the rotation lock are shared only by processes on this host that share state_dir; configure Redis when running several replicas');
  }
  return new FileSharedState(config.stateDir);
}

/** Pino options shared by the server and the CLI: credentials never reach a log line. */
export function createLogger(level: string): Logger {
  return pino(
    {
      level,
      // Fixed paths only: wildcard paths made redaction ~2% of the token path's CPU. Signet never
      // logs tokens, keys or secrets; this is the second wall for request headers.
      redact: { paths: ['req.headers.authorization', 'req.headers["x-vault-token"]'], censor: '[redacted]' },
    },
    // Asynchronous, buffered writes: one audit line per token must not cost a write(2) each
    // (measured: 152 → 135 µs of gateway CPU per token). Lines reach the log within 250 ms;
    // serve() flushes on shutdown.
    pino.destination({ sync: false, minLength: 8192, periodicFlush: 250 }),
  );
}

export async function buildApp(config: SignetConfig, options: BuildOptions = {}): Promise<FastifyInstance> {
  const logger = options.logger ?? createLogger(config.server.logLevel);
  const clock = options.clock ?? Date.now;
  const backends = options.backends ?? new Map(await Promise.all([...config.backends.values()].map(async (b) => [b.name, await createBackend(b)] as const)));
  const metrics = new Metrics();
  const state = options.state ?? (await createSharedState(config, logger));
  const canary = options.canary === false ? undefined : (options.canary ?? verifyingCanary);
  const keys = new KeyService({
    config,
    backends,
    clock,
    logger,
    revocations: state,
    // A failed canary keeps the version pending; say so loudly, once per attempt.
    canary: canary
      ? async (ring, version, published) => {
          try {
            await canary(ring, version, published);
          } catch (error) {
            metrics.canaryFailures.inc({ ring: ring.name, version: String(version) });
            logger.error({ ring: ring.name, version, err: error }, 'canary failed: this version stays pending and the current one keeps signing');
            throw error;
          }
        }
      : undefined,
  });
  const webhooks = new WebhookNotifier(config.webhooks, logger);
  const rotation = new RotationController(keys, state, metrics, logger, webhooks);
  keys.onRefresh((ring) => {
    const { view, versions } = ring.current();
    for (const state of ['pending', 'active', 'retiring', 'retired', 'revoked'] as const) {
      metrics.versionState.set({ ring: ring.name, state }, view.versions.filter((v) => v.state === state).length);
    }
    const signing = versions.find((v) => v.version === view.signing);
    if (signing) metrics.signingVersionAge.set({ ring: ring.name }, (clock() - signing.createdAt.getTime()) / 1000);
  });

  const tls = config.server.tls;
  const app = Fastify({
    // requireHostHeader: a missing Host gets the documented body from src/http/contract.ts, not Node's empty 400.
    ...(tls ? { https: { cert: readFileSync(tls.certFile), key: readFileSync(tls.keyFile), requireHostHeader: false } } : {}),
    loggerInstance: logger as FastifyBaseLogger,
    // One audit line per token instead of two framework lines per request.
    logController: new LogController({ disableRequestLogging: true }),
    // No per-request child logger (pino child() on every request, JWKS GETs included): lines that
    // concern a request carry `reqId: request.id` explicitly.
    childLoggerFactory: (logger) => logger,
    bodyLimit: config.server.bodyLimitBytes,
    trustProxy: config.server.trustProxy,
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, useDefaults: false, allErrors: false } },
    // Requests that arrive while closing get ERR_SHUTTING_DOWN in the documented body (src/http/contract.ts).
    return503OnClosing: false,
    ...contractServerOptions(logger, metrics.requestErrors),
  });

  const services: Services = { config, keys, clients: new ClientDirectory(config.clients, config.rings, config.claimLimits), metrics, clock, rotation };
  app.decorate('signet', services);
  // JSON only: Fastify's default text/plain parser would turn a form post into a 400 about shape.
  app.removeContentTypeParser('text/plain');
  app.addSchema(readinessSchema);

  if (tls) {
    // Served over TLS: tell browsers and well-behaved clients never to downgrade.
    app.addHook('onSend', async (_request, reply) => {
      reply.header('strict-transport-security', 'max-age=31536000; includeSubDomains');
    });
  }
  // Typed errors → status and the documented body, in one place; 5xx details go to the log only.
  app.setErrorHandler((error: FastifyError, request, reply) => replyWithError(request, reply, error, metrics.requestErrors));
  installHttpContract(app, metrics.requestErrors);
  await registerOpenApi(app);

  await app.register(healthRoutes);
  await app.register(metricsRoutes);
  await app.register(jwksRoutes);
  await app.register(tokenRoutes);
  await app.register(adminRoutes);
  await app.register(openApiRoutes);

  app.addHook('onReady', async () => {
    if (options.scheduling !== false) await rotation.start();
    await keys.start();
    // Say loudly, once at start-up, when a key is weaker than non-exportable.
    for (const [ring, findings] of await keys.auditKeys()) {
      metrics.keyAuditFindings.set({ ring }, findings.length);
      for (const finding of findings) logger.warn({ ring }, finding);
    }
  });
  app.addHook('onClose', async () => {
    keys.stop();
    webhooks.close();
    await state.close();
    await Promise.all([...backends.values()].map((backend) => backend.close()));
  });
  return app;
}
