// What keeps one replica answering when callers or the backend misbehave, at the HTTP layer:
// - connections: a cap below the descriptor limit, idle keep-alive sockets closed first when the
//   table fills, and timeouts for slow headers and bodies, so no stall can starve the table;
// - pressure: token requests are refused (503) while the event loop lags or the heap is over its
//   limit (@fastify/under-pressure); key discovery and probes are never refused for it;
// - draining: once shutdown starts, every new request gets 503 ERR_SHUTTING_DOWN with
//   Retry-After and Connection: close, and responses in flight close their connection.
import { readFileSync } from 'node:fs';
import type { Socket } from 'node:net';
import underPressure from '@fastify/under-pressure';
import type { FastifyInstance } from 'fastify';
import type { ServerLimits } from '../config-schema.js';
import { OverloadedError, ShuttingDownError } from '../errors.js';

/** Descriptors kept for everything that is not a client connection: backend pools, Redis, files, the log. */
export const RESERVED_DESCRIPTORS = 128;
/** Above this share of the connection cap, idle keep-alive connections are closed to make room. */
const IDLE_EVICTION_SHARE = 0.75;
/** Routes refused under pressure: the work a stall or a flood makes expensive. */
const SHEDDABLE_ROUTES: ReadonlySet<string> = new Set(['/v1/tokens']);

/** The soft RLIMIT_NOFILE of this process (Linux), or undefined where it cannot be read or is unlimited. */
export function descriptorLimit(): number | undefined {
  try {
    const line = /^Max open files\s+(\d+)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
    return line ? Number(line[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** The connection cap: configured, or the descriptor limit less a reserve; undefined when unbounded. */
export function connectionCap(limits: ServerLimits, nofile = descriptorLimit()): number | undefined {
  if (limits.maxConnections !== undefined) return limits.maxConnections;
  if (nofile === undefined) return undefined;
  return Math.max(16, nofile - RESERVED_DESCRIPTORS);
}

/** Per app: whether it drains, how many requests are being worked on, and who waits for none. */
interface DrainState {
  draining: boolean;
  inFlight: number;
  idle: Array<() => void>;
}
const drainStates = new WeakMap<FastifyInstance, DrainState>();

/**
 * From now on every new request is answered 503 ERR_SHUTTING_DOWN, and every response, those of
 * the requests in flight included, closes its connection (Connection: close).
 */
export function startDraining(app: FastifyInstance): void {
  const state = drainStates.get(app);
  if (state) state.draining = true;
}

/**
 * Resolves once no request is being worked on, or after `maxWaitMs`: a caller that went away
 * mid-request is not counted out, and every token request ends by its deadline anyway.
 */
export function requestsDone(app: FastifyInstance, maxWaitMs: number): Promise<void> {
  const state = drainStates.get(app);
  if (!state || state.inFlight <= 0) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, maxWaitMs);
    state.idle.push(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/**
 * Options for Node's server itself. Node enforces the headers and request timeouts only when it
 * checks its connections, every 30 s by default: a slow sender would hold its descriptor up to
 * 30 s past request_timeout_seconds. Checked every second instead (a walk over the open
 * connections), so the timeout holds within a second.
 */
export function nodeServerOptions(limits: ServerLimits): { connectionsCheckingInterval: number } {
  return { connectionsCheckingInterval: Math.min(1000, limits.requestTimeoutMs) };
}

/** Fastify options for connection timeouts (the rest is set on the server in installHttpGuards). */
export function serverTimeouts(limits: ServerLimits): { keepAliveTimeout: number; requestTimeout: number; return503OnClosing: false } {
  // Our own drain hook answers requests during shutdown, in the documented body.
  return { keepAliveTimeout: limits.keepAliveTimeoutMs, requestTimeout: limits.requestTimeoutMs, return503OnClosing: false };
}

export async function installHttpGuards(app: FastifyInstance, limits: ServerLimits): Promise<void> {
  const server = app.server;
  // Slow headers hold a descriptor too (slowloris): they get the same bound as the whole request.
  server.headersTimeout = limits.requestTimeoutMs;
  const cap = connectionCap(limits);
  if (cap !== undefined) {
    server.maxConnections = cap;
    let open = 0;
    const highWater = Math.floor(cap * IDLE_EVICTION_SHARE);
    server.on('connection', (socket: Socket) => {
      open++;
      socket.once('close', () => open--);
      // Idle keep-alive sockets are the cheapest to give up: their callers reconnect when needed.
      if (open >= highWater) server.closeIdleConnections();
    });
  }

  const state: DrainState = { draining: false, inFlight: 0, idle: [] };
  drainStates.set(app, state);
  // app.close() without drainAndClose (tests, CLI commands) drains too: the same answer while closing.
  app.addHook('preClose', (done) => {
    state.draining = true;
    done();
  });
  // Callback hooks, not async ones, and no listener per request: they run on every request, the
  // JWKS included (a 'close' listener per response cost ~10 µs of CPU and 45 MB of RSS under load).
  app.addHook('onRequest', (_request, _reply, next) => {
    state.inFlight++;
    if (!state.draining) return next();
    next(new ShuttingDownError('this replica is shutting down; retry, and another replica answers'));
  });
  app.addHook('onResponse', (_request, _reply, next) => {
    if (--state.inFlight <= 0) for (const resolve of state.idle.splice(0)) resolve();
    next();
  });
  app.addHook('onSend', (_request, reply, payload, next) => {
    if (state.draining) reply.header('connection', 'close');
    next(null, payload);
  });

  await app.register(underPressure, {
    maxEventLoopDelay: limits.maxEventLoopDelayMs,
    maxHeapUsedBytes: limits.maxHeapUsedBytes,
    // Returning nothing lets the request through: only token requests are refused under pressure.
    pressureHandler: (request, _reply, type) => {
      if (!SHEDDABLE_ROUTES.has(request.routeOptions.url ?? '')) return undefined;
      return Promise.reject(new OverloadedError(`the gateway is overloaded (${type}); retry shortly`, 'overload'));
    },
  });
}
