// The one mapping from any failure (ours, Fastify's, Ajv's, Node's HTTP parser's) to a status and
// the documented body `{"error":{"code","message"}}`. 5xx messages come from a table: they say
// what failed in words; the error itself, with Vault/Redis/undici details, goes to the log only.
import type { Socket } from 'node:net';
import { STATUS_CODES } from 'node:http';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import {
  GatewayError,
  HeadersTooLargeError,
  InvalidRequestError,
  MalformedHttpError,
  MalformedJsonError,
  MethodNotAllowedError,
  PayloadTooLargeError,
  RequestTimeoutError,
  ShedError,
  UnsupportedMediaTypeError,
} from '../errors.js';
import { failRequestSpan } from '../observability/tracing.js';
import { newRequestId, REQUEST_ID_HEADER } from './request-id.js';

interface AjvIssue {
  instancePath?: string;
  keyword?: string;
  message?: string;
  params?: Record<string, unknown>;
}

/** Ajv's first complaint, in words that name the field (`request body has an unknown field "alg"`). */
function validationMessage(context: string, issue: AjvIssue): string {
  const at = `request ${context}${issue.instancePath ?? ''}`;
  const params = issue.params ?? {};
  switch (issue.keyword) {
    case 'additionalProperties':
      return `${at} has an unknown field ${JSON.stringify(params.additionalProperty)}`;
    case 'required':
      return `${at} is missing the required field ${JSON.stringify(params.missingProperty)}`;
    case 'type':
      return issue.instancePath ? `${at} must be ${params.type === 'integer' ? 'an integer' : `of type ${String(params.type)}`}` : `${at} must be a JSON ${String(params.type)}`;
    default:
      return `${at} ${issue.message ?? 'is invalid'}`;
  }
}

// Fastify's own codes → ours. One table instead of a branch per code.
const FRAMEWORK: Readonly<Record<string, (error: FastifyError) => GatewayError>> = {
  FST_ERR_CTP_INVALID_JSON_BODY: () => new MalformedJsonError('request body is not valid JSON'),
  FST_ERR_CTP_EMPTY_JSON_BODY: () => new MalformedJsonError('request body is empty; send a JSON object'),
  FST_ERR_CTP_BODY_TOO_LARGE: () => new PayloadTooLargeError('request body is too large'),
  FST_ERR_CTP_INVALID_MEDIA_TYPE: () => new UnsupportedMediaTypeError('send the request body as application/json'),
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: () => new MalformedHttpError('Content-Length does not match the body that was sent'),
  FST_ERR_CTP_INVALID_TYPE: () => new UnsupportedMediaTypeError('send the request body as application/json'),
  FST_ERR_BAD_URL: () => new MalformedHttpError('the URL is not valid percent-encoding'),
  FST_ERR_MAX_PARAM_LENGTH: () => new MalformedHttpError('a URL path segment is longer than 100 characters'),
  FST_ERR_ASYNC_CONSTRAINT: () => new MalformedHttpError('the request could not be routed'),
  FST_ERR_CTP_INVALID_CONTENT_TYPE: () => new UnsupportedMediaTypeError('the Content-Type header cannot be parsed; send application/json'),
};

/** Any thrown value → a typed error with a stable code. */
export function toGatewayError(error: FastifyError | Error): GatewayError {
  if (error instanceof GatewayError) return error;
  const framework = error as FastifyError;
  if (framework.validation) return new InvalidRequestError(validationMessage(framework.validationContext ?? 'body', framework.validation[0] as AjvIssue));
  const mapped = framework.code ? FRAMEWORK[framework.code] : undefined;
  if (mapped) return mapped(framework);
  if (error instanceof SyntaxError) return new MalformedJsonError('request body is not valid JSON');
  if (framework.statusCode && framework.statusCode >= 400 && framework.statusCode < 500) return new InvalidRequestError(error.message);
  return new GatewayError('internal error', { cause: error });
}

// What each 5xx code tells the caller. The error's own message (which may quote Vault, Redis or
// undici) is logged, never sent.
const PUBLIC_5XX: Readonly<Record<string, string>> = {
  ERR_INTERNAL: 'the gateway failed unexpectedly',
  ERR_BACKEND_UNAVAILABLE: 'the key backend (Vault/KMS) or the shared state (Redis) could not be reached or refused the call',
  ERR_BACKEND_THROTTLED: 'the key backend is throttling the gateway',
  ERR_NO_SIGNING_VERSION: 'no key version of this ring may sign right now',
  ERR_BACKEND_RESPONSE: 'the key backend returned a key or signature the gateway cannot use',
  ERR_MALFORMED_DER: 'the key backend returned a key or signature the gateway cannot use',
  ERR_UNSUPPORTED_KEY: 'the key backend returned a key of the wrong type for this ring',
  ERR_SHUTTING_DOWN: 'this gateway replica is shutting down; another replica answers',
  ERR_DEADLINE_EXCEEDED: 'no signature within the request deadline: the key backend is slow or stalled',
  ERR_BACKEND_CIRCUIT_OPEN: 'the key backend failed repeatedly; the gateway fails fast until a trial call succeeds',
  ERR_OVERLOADED: 'the gateway has too much work in progress',
  ERR_NOT_READY: "the ring's keys have not loaded yet: the key backend could not be read since start-up",
  ERR_BACKEND_KEY_MISSING: "the key backend no longer has this ring's key",
  ERR_BACKEND_VERSION_MISSING: "the key backend no longer has this ring's signing version",
  ERR_KEY_INTEGRITY: "the key backend's signature did not verify against the published key; that version stopped signing",
  ERR_AUDIT_UNAVAILABLE: 'the audit record could not be written, so no token was handed out',
  ERR_IDENTITY_PROVIDER_UNAVAILABLE: "an identity provider's keys could not be fetched",
};

export function publicMessage(error: GatewayError, requestId: string): string {
  if (error.status < 500) return error.message;
  const what = error.publicMessage ?? PUBLIC_5XX[error.code] ?? 'the gateway could not complete the request';
  const retry = error.retryAfterSeconds === undefined ? '' : `; retry after ${error.retryAfterSeconds} s`;
  return `${what}${retry} (details in the gateway log, reqId ${requestId})`;
}

export interface ErrorCounter {
  inc(labels: { code: string }): void;
}

export interface ErrorCounters {
  requestErrors: ErrorCounter;
  requestsShed: { inc(labels: { reason: string }): void };
}

/** Sends `error` as the documented body, logging 5xx in full and 4xx in one line. */
export function replyWithError(request: FastifyRequest, reply: FastifyReply, error: FastifyError | Error, counters: ErrorCounters): FastifyReply {
  const typed = toGatewayError(error);
  counters.requestErrors.inc({ code: typed.code });
  if (typed instanceof ShedError) {
    // Shedding is counted, not logged per request: a line with a stack per refusal would turn an
    // overload into a log storm that makes it worse.
    counters.requestsShed.inc({ reason: typed.reason });
    request.log.debug({ reqId: request.id, code: typed.code }, 'request shed');
  } else if (typed.status >= 500) {
    request.log.error({ reqId: request.id, err: error, code: typed.code }, 'request failed');
  } else {
    request.log.info({ reqId: request.id, code: typed.code, reason: typed.message, url: request.url.split('?')[0] }, 'request rejected');
  }
  failRequestSpan(request, typed.code);
  // Also here: framework errors (a bad URL) are answered before the onRequest hooks run.
  reply.header(REQUEST_ID_HEADER, request.id);
  if (typed.retryAfterSeconds !== undefined) reply.header('retry-after', String(typed.retryAfterSeconds));
  if (typed instanceof MethodNotAllowedError) reply.header('allow', typed.allow.join(', '));
  return reply.code(typed.status).type('application/json; charset=utf-8').send({ error: { code: typed.code, message: publicMessage(typed, request.id) } });
}

// Node's HTTP parser codes → words. Anything else is "could not be parsed".
const PARSER_REASONS: Readonly<Record<string, string>> = {
  HPE_UNEXPECTED_CONTENT_LENGTH: 'Content-Length is sent twice, or together with Transfer-Encoding',
  HPE_INVALID_CONTENT_LENGTH: 'Content-Length is not one decimal number',
  HPE_INVALID_TRANSFER_ENCODING: 'Transfer-Encoding must end in "chunked" and may not come with Content-Length',
  HPE_INVALID_CHUNK_SIZE: 'a chunk size is not a hexadecimal number',
  HPE_INVALID_HEADER_TOKEN: 'a header name or value contains a character HTTP does not allow',
  HPE_INVALID_METHOD: 'the method is not an HTTP method',
  HPE_INVALID_URL: 'the request target is not a valid URL',
  HPE_INVALID_VERSION: 'the HTTP version is not 1.0 or 1.1',
  HPE_LF_EXPECTED: 'a line does not end in CRLF',
  HPE_CR_EXPECTED: 'a line does not end in CRLF',
  HPE_UNEXPECTED_SPACE: 'a header is folded or has a space before its colon',
  HPE_INVALID_CONSTANT: 'the request line or a header is malformed',
};

function parserError(error: NodeJS.ErrnoException): GatewayError {
  if (error.code === 'HPE_HEADER_OVERFLOW') return new HeadersTooLargeError('the request headers are larger than the server accepts');
  if (error.code === 'ERR_HTTP_REQUEST_TIMEOUT') return new RequestTimeoutError('the request was not received in time');
  return new MalformedHttpError(`the HTTP request could not be parsed: ${PARSER_REASONS[error.code ?? ''] ?? 'malformed framing or headers'}`);
}

/** Node's `clientError`: the request never became a request, so answer on the socket and close it. */
export function clientErrorHandler(logger: Logger, counter: ErrorCounter): (error: NodeJS.ErrnoException, socket: Socket) => void {
  return (error, socket) => {
    if (error.code === 'ECONNRESET' || socket.destroyed) return;
    const typed = parserError(error);
    counter.inc({ code: typed.code });
    // Never the caller's x-request-id: the request could not be parsed, so nothing in it is trusted.
    const reqId = newRequestId();
    logger.info({ reqId, code: typed.code, parserCode: error.code, remote: socket.remoteAddress }, 'malformed HTTP request rejected');
    const body = JSON.stringify({ error: { code: typed.code, message: typed.message } });
    if (!socket.writable) return void socket.destroy();
    // end(), not destroy(): the answer must reach the client before the connection closes.
    socket.end(`HTTP/1.1 ${typed.status} ${STATUS_CODES[typed.status]}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nX-Request-Id: ${reqId}\r\nConnection: close\r\n\r\n${body}`);
  };
}
