// Bounded graceful shutdown: stop accepting connections, answer requests that still arrive on
// open keep-alive connections with 503 ERR_SHUTTING_DOWN (Retry-After, Connection: close), let
// the requests in flight finish (each token request is bounded by its own deadline), then close
// the idle connections, the backends and the audit records. Whatever is still open when the
// drain timeout passes is cut, so a stalled backend or a slow client cannot hold the process
// past its grace period.
import { Server } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { requestsDone, startDraining } from './http-guards.js';

/** After the drain timeout, how long the close hooks (backends, Redis, audit) still get. */
const CLOSE_HOOKS_GRACE_MS = 1000;

export type DrainResult = 'drained' | 'cut';

export async function drainAndClose(app: FastifyInstance, drainTimeoutMs: number, requestDeadlineMs: number): Promise<DrainResult> {
  startDraining(app);
  // Stop listening but keep open connections (http.Server#close would drop the idle keep-alive
  // ones at once): a caller that sends on one now learns why, instead of meeting a closed socket.
  Server.prototype.close.call(app.server);
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'cut'>((resolve) => {
    timer = setTimeout(() => resolve('cut'), drainTimeoutMs);
  });
  // Token requests end by their deadline; admin calls get what is left of the drain timeout.
  const closing = requestsDone(app, requestDeadlineMs + 100).then(() => app.close().then(() => 'drained' as const));
  const result = await Promise.race([closing, timeout]);
  clearTimeout(timer);
  if (result === 'drained') return result;
  app.server.closeAllConnections();
  await Promise.race([app.close(), new Promise((resolve) => setTimeout(resolve, CLOSE_HOOKS_GRACE_MS).unref())]);
  return result;
}
