// One error contract on every path: what Fastify and Node would otherwise answer in their own
// shapes (parser errors, bad URL encoding, 404/405, a missing or duplicated header) gets the
// documented body, and JSON bodies are read strictly (UTF-8 only, no Content-Encoding). Requests
// during shutdown are answered by the drain (src/resilience/http-guards.ts).
import type { IncomingHttpHeaders } from 'node:http';
import type { FastifyInstance, FastifyServerOptions } from 'fastify';
import type { Logger } from 'pino';
import {
  InvalidValueError,
  MalformedHttpError,
  MalformedJsonError,
  MethodNotAllowedError,
  NotFoundError,
  UnsupportedMediaTypeError,
} from '../errors.js';
import { firstInexactNumber } from './exact-numbers.js';
import { clientErrorHandler, replyWithError, toGatewayError, type ErrorCounters } from './error-reply.js';

/** Options for `Fastify({...})`: answers for what happens before routing. */
export function contractServerOptions(logger: Logger, counters: ErrorCounters): Pick<FastifyServerOptions, 'frameworkErrors' | 'clientErrorHandler'> & { http: { requireHostHeader: boolean } } {
  return {
    frameworkErrors: (error, request, reply) => void replyWithError(request, reply, error, counters),
    clientErrorHandler: clientErrorHandler(logger, counters.requestErrors),
    // Node would answer a missing Host with an empty 400; the onRequest hook below answers instead.
    http: { requireHostHeader: false },
  };
}

// Headers Node keeps only the first of, silently: a second one means the sender and Signet could
// disagree about who is asking or what the body is.
const SINGLE_HEADERS: ReadonlySet<string> = new Set(['authorization', 'host', 'content-type', 'content-encoding']);

function duplicatedHeader(rawHeaders: readonly string[]): string | undefined {
  const seen = new Set<string>();
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!.toLowerCase();
    if (!SINGLE_HEADERS.has(name)) continue;
    if (seen.has(name)) return name;
    seen.add(name);
  }
  return undefined;
}

function parsesAsJson(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * A request body as text, for every route that reads one: only uncompressed UTF-8 is accepted
 * (415 for a Content-Encoding or another charset; `invalid()` for bytes that are not UTF-8).
 * Returns the error instead of throwing, for content-type parsers to hand to `done`.
 */
export function utf8Body(headers: IncomingHttpHeaders, body: Buffer, what: string, invalid: () => Error): string | Error {
  const encoding = headers['content-encoding'];
  if (encoding !== undefined) return new UnsupportedMediaTypeError(`Content-Encoding ${JSON.stringify(encoding)} is not accepted; send the ${what} uncompressed`);
  const charset = charsetOf(headers['content-type']);
  if (charset !== undefined && charset !== 'utf-8') return new UnsupportedMediaTypeError(`charset ${JSON.stringify(charset)} is not accepted; send the ${what} as UTF-8`);
  try {
    return utf8.decode(body);
  } catch {
    return invalid();
  }
}

/** `charset` of a Content-Type, lower-cased and unquoted, or undefined when absent. */
function charsetOf(contentType: string | undefined): string | undefined {
  for (const parameter of (contentType ?? '').split(';').slice(1)) {
    const [name, ...value] = parameter.split('=');
    if (name?.trim().toLowerCase() === 'charset') return value.join('=').trim().replace(/^"(.*)"$/, '$1').toLowerCase();
  }
  return undefined;
}

// A route pattern (`/rings/:ring/.well-known/jwks.json`) → a RegExp over raw paths.
function routeRegExp(url: string): RegExp {
  const source = url
    .split('/')
    .map((segment) => (segment.startsWith(':') ? '[^/]+' : segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
    .join('/');
  return new RegExp(`^${source}$`);
}

/**
 * Installs the contract on `app`. Call before registering routes: the 405 answer needs to see
 * every route as it is added.
 */
export function installHttpContract(app: FastifyInstance, counters: ErrorCounters): void {
  const routes: Array<{ pattern: RegExp; methods: string[] }> = [];
  app.addHook('onRoute', (route) => {
    if (route.url.includes('*')) return; // @fastify/cors's catch-all OPTIONS route
    const methods = (Array.isArray(route.method) ? route.method : [route.method]).map(String);
    routes.push({ pattern: routeRegExp(route.url), methods });
  });

  // Callback style, not async: this runs on every request, JWKS included, and a promise per request shows.
  app.addHook('onRequest', (request, _reply, done) => {
    if (request.raw.httpVersion === '1.1' && request.headers.host === undefined) return done(new MalformedHttpError('an HTTP/1.1 request must carry a Host header'));
    const duplicated = duplicatedHeader(request.raw.rawHeaders);
    if (duplicated) return done(new MalformedHttpError(`the ${duplicated} header is sent more than once; send it once`));
    done();
  });

  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split('?')[0]!;
    const allow = [...new Set(routes.filter((route) => route.pattern.test(path)).flatMap((route) => route.methods))];
    const error = allow.length
      ? new MethodNotAllowedError(`${request.method} is not allowed on ${path}; allowed: ${allow.join(', ')}`, allow)
      : new NotFoundError(`no route ${request.method} ${path}`);
    return replyWithError(request, reply, error, counters);
  });

  // JSON bodies: only UTF-8, never compressed. Parsed by Fastify's own parser (prototype-poisoning
  // checks included) once the bytes are known to be UTF-8.
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (request, body, done) => {
    const text = utf8Body(request.headers, body as Buffer, 'JSON body', () => new MalformedJsonError('request body is not valid UTF-8'));
    if (text instanceof Error) return done(text, undefined);
    const inexact = firstInexactNumber(text);
    if (inexact !== undefined) {
      const value = Number(inexact);
      const what = Number.isFinite(value) ? `would become ${String(value)}` : 'is out of its range';
      return done(new InvalidValueError(`the number ${inexact.slice(0, 40)} cannot be signed as sent: as a JSON number (an IEEE double) it ${what}; send it as a string`), undefined);
    }
    parseJson(request, text, (error, value) => {
      if (!error) return done(null, value);
      // Fastify's parser reports prototype poisoning as "invalid JSON"; say what it really was.
      if (text.length > 0 && parsesAsJson(text)) return done(new InvalidValueError('request body contains "__proto__" or "constructor": {"prototype": …}, which are never accepted'), undefined);
      done(toGatewayError(error), undefined);
    });
  });
}
