// Bounded graceful shutdown: stop accepting connections, answer requests that still arrive on
// open connections with 503 ERR_SHUTTING_DOWN (Retry-After, Connection: close), let requests in
// flight finish (each is bounded by its own deadline), close the backends and flush the audit
// records. Whatever is still open when the drain timeout passes is cut, so a stalled backend or a
// slow client cannot hold the process past its grace period.
import type { FastifyInstance } from 'fastify';
import { startDraining } from './http-guards.js';

/** After the drain timeout, how long the close hooks (backends, Redis, audit) still get. */
const CLOSE_HOOKS_GRACE_MS = 1000;

export type DrainResult = 'drained' | 'cut';

export async function drainAndClose(app: FastifyInstance, drainTimeoutMs: number): Promise<DrainResult> {
  startDraining(app);
  const closing = app.close().then(() => 'drained' as const);
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'cut'>((resolve) => {
    timer = setTimeout(() => resolve('cut'), drainTimeoutMs);
  });
  const result = await Promise.race([closing, timeout]);
  clearTimeout(timer);
  if (result === 'drained') return result;
  app.server.closeAllConnections();
  await Promise.race([closing, new Promise((resolve) => setTimeout(resolve, CLOSE_HOOKS_GRACE_MS).unref())]);
  return result;
}
