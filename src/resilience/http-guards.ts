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
import type { ServerLimits } from '../config/schema.js';
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

const draining = new WeakSet<FastifyInstance>();
/** Requests being worked on, per app, and who waits for the count to reach zero. */
const inFlight = new WeakMap<FastifyInstance, { count: number; idle: Array<() => void> }>();

/** From now on every new request is answered 503 ERR_SHUTTING_DOWN and connections close after their response. */
export function startDraining(app: FastifyInstance): void {
  draining.add(app);
}

export function isDraining(app: FastifyInstance): boolean {
  return draining.has(app);
}

/** Resolves once no request is being worked on (requests refused while draining count too, briefly). */
export function requestsDone(app: FastifyInstance): Promise<void> {
  const state = inFlight.get(app);
  if (!state || state.count === 0) return Promise.resolve();
  return new Promise((resolve) => state.idle.push(resolve));
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

  const state = { count: 0, idle: [] as Array<() => void> };
  inFlight.set(app, state);
  const counted = new WeakSet<object>();
  const done = (request: object): void => {
    // A request is done once: when its response is sent, or when its caller went away first.
    if (!counted.delete(request) || --state.count > 0) return;
    for (const resolve of state.idle.splice(0)) resolve();
  };
  app.addHook('onResponse', async (request) => done(request));
  app.addHook('onRequestAbort', async (request) => done(request));
  app.addHook('onRequest', async (request, reply) => {
    counted.add(request);
    state.count++;
    if (!draining.has(app)) return;
    reply.header('connection', 'close');
    throw new ShuttingDownError('this replica is shutting down; retry, and another replica answers');
  });
  app.addHook('onSend', async (_request, reply) => {
    if (draining.has(app)) reply.header('connection', 'close');
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
