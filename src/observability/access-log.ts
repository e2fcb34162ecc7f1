// The optional access log (server.access_log / SIGNET_ACCESS_LOG): one line per request, written
// when the response has been sent. It names the route pattern, never the query string, headers or
// bodies, so no credential, token or claim can reach it.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { requestTraceId } from './tracing.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** Who the request authenticated as, once known: a client's name, or `admin:<key name>`. */
    signetCaller: string | undefined;
  }
}

/** Records who a request authenticated as, for the access log. */
export function noteCaller(request: FastifyRequest, name: string): void {
  request.signetCaller = name;
}

export function installAccessLog(app: FastifyInstance, logger: Logger, enabled: boolean): void {
  // Declared even when off: a property added per request later would change the object's shape.
  app.decorateRequest('signetCaller', undefined);
  if (!enabled) return;
  app.addHook('onResponse', (request, reply, done) => {
    const traceId = requestTraceId(request);
    logger.info(
      {
        reqId: request.id,
        method: request.method,
        route: request.routeOptions.url ?? 'unmatched',
        status: reply.statusCode,
        ms: Math.round(reply.elapsedTime * 100) / 100,
        ...(request.signetCaller !== undefined ? { client: request.signetCaller } : {}),
        ...(traceId ? { traceId } : {}),
      },
      'request',
    );
    done();
  });
}
