// The request id: the caller's `x-request-id` when it is a safe token, otherwise a random one.
// It is returned on every response, put in log and audit lines and error messages, and sent on
// the backend calls made for the request, so one id follows a token from a proxy's log to Vault's.
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

export const REQUEST_ID_HEADER = 'x-request-id';
/** Longest id accepted from a caller: a UUID is 36, a W3C trace id 32, a ULID 26. */
export const MAX_REQUEST_ID_LENGTH = 128;
// Letters, digits and `-._~:/+=@` only: no space, quote, backslash, comma or control character, so
// the id is safe as a header value, in a JSON log line, in a message and in a comma-joined list.
const SAFE_REQUEST_ID = new RegExp(`^[A-Za-z0-9._~:/+=@-]{1,${MAX_REQUEST_ID_LENGTH}}$`);

/** The caller's id if it is safe to log and echo; undefined otherwise (never repeated back). */
export function acceptedRequestId(value: string | string[] | undefined): string | undefined {
  return typeof value === 'string' && SAFE_REQUEST_ID.test(value) ? value : undefined;
}

/** Unique across replicas without coordination: 122 random bits. */
export function newRequestId(): string {
  return randomUUID();
}

/** Fastify's `genReqId`. */
export function requestIdOf(request: IncomingMessage): string {
  return acceptedRequestId(request.headers[REQUEST_ID_HEADER]) ?? newRequestId();
}
