// Every failure a caller can see. Callers branch on `code`, never on message text.
// HTTP status lives here, in one place; routes only throw.

export class GatewayError extends Error {
  readonly code: string = 'ERR_INTERNAL';
  readonly status: number = 500;
  /** Seconds, sent as Retry-After on 503/429. */
  retryAfterSeconds?: number;
  /**
   * For a 5xx, words the caller may see instead of the generic ones: only facts of the gateway's
   * own (versions, store names), never text from a backend, Redis or a library.
   */
  readonly publicMessage?: string;

  constructor(message: string, options?: { cause?: unknown; publicMessage?: string }) {
    super(message, options);
    this.name = new.target.name;
    if (options?.publicMessage !== undefined) this.publicMessage = options.publicMessage;
  }
}

// 400: the request itself is wrong.
export class InvalidRequestError extends GatewayError {
  override readonly code: string = 'ERR_INVALID_REQUEST';
  override readonly status: number = 400;
}
export class MalformedJsonError extends GatewayError {
  override readonly code: string = 'ERR_MALFORMED_JSON';
  override readonly status: number = 400;
}
export class ReservedClaimError extends GatewayError {
  override readonly code: string = 'ERR_RESERVED_CLAIM';
  override readonly status: number = 400;
}
export class TtlTooLongError extends GatewayError {
  override readonly code: string = 'ERR_TTL_TOO_LONG';
  override readonly status: number = 400;
}
/** A string or number the gateway would sign or match that it cannot carry unchanged (controls, lone surrogates, unsafe numbers). */
export class InvalidValueError extends GatewayError {
  override readonly code: string = 'ERR_INVALID_VALUE';
  override readonly status: number = 400;
}
/** `claims` over the configured nesting depth, members per object/array, or encoded size. */
export class ClaimsLimitError extends GatewayError {
  override readonly code: string = 'ERR_CLAIMS_LIMIT';
  override readonly status: number = 400;
}
/** HTTP a well-behaved client never sends: framing the parser refused, a bad URL encoding, a duplicated or missing header. */
export class MalformedHttpError extends GatewayError {
  override readonly code: string = 'ERR_MALFORMED_HTTP';
  override readonly status: number = 400;
}
export class MethodNotAllowedError extends GatewayError {
  override readonly code: string = 'ERR_METHOD_NOT_ALLOWED';
  override readonly status: number = 405;
  constructor(
    message: string,
    readonly allow: readonly string[],
  ) {
    super(message);
  }
}
export class RequestTimeoutError extends GatewayError {
  override readonly code: string = 'ERR_REQUEST_TIMEOUT';
  override readonly status: number = 408;
}
export class HeadersTooLargeError extends GatewayError {
  override readonly code: string = 'ERR_HEADERS_TOO_LARGE';
  override readonly status: number = 431;
}

// 401/403: who is asking, and what their policy allows.
export class UnauthenticatedError extends GatewayError {
  override readonly code: string = 'ERR_UNAUTHENTICATED';
  override readonly status: number = 401;
}
export class RingNotAllowedError extends GatewayError {
  override readonly code: string = 'ERR_RING_NOT_ALLOWED';
  override readonly status: number = 403;
}
export class AudienceNotAllowedError extends GatewayError {
  override readonly code: string = 'ERR_AUDIENCE_NOT_ALLOWED';
  override readonly status: number = 403;
}
/** `urn:signet:` audiences belong to the gateway's own tokens (webhook events, canaries): no client may ask for one. */
export class AudienceReservedError extends AudienceNotAllowedError {
  override readonly code: string = 'ERR_AUDIENCE_RESERVED';
}
export class SubjectNotAllowedError extends GatewayError {
  override readonly code: string = 'ERR_SUBJECT_NOT_ALLOWED';
  override readonly status: number = 403;
}
export class ClaimNotAllowedError extends GatewayError {
  override readonly code: string = 'ERR_CLAIM_NOT_ALLOWED';
  override readonly status: number = 403;
}

// 404: names that do not exist.
export class UnknownRingError extends GatewayError {
  override readonly code: string = 'ERR_UNKNOWN_RING';
  override readonly status: number = 404;
}
export class UnknownVersionError extends GatewayError {
  override readonly code: string = 'ERR_UNKNOWN_VERSION';
  override readonly status: number = 404;
}
export class NotFoundError extends GatewayError {
  override readonly code: string = 'ERR_NOT_FOUND';
  override readonly status: number = 404;
}

export class PayloadTooLargeError extends GatewayError {
  override readonly code: string = 'ERR_PAYLOAD_TOO_LARGE';
  override readonly status: number = 413;
}
export class UnsupportedMediaTypeError extends GatewayError {
  override readonly code: string = 'ERR_UNSUPPORTED_MEDIA_TYPE';
  override readonly status: number = 415;
}
export class RateLimitedError extends GatewayError {
  override readonly code: string = 'ERR_RATE_LIMITED';
  override readonly status: number = 429;
}

// 503: the backend cannot sign right now; retrying later may work.
export class BackendUnavailableError extends GatewayError {
  override readonly code: string = 'ERR_BACKEND_UNAVAILABLE';
  override readonly status: number = 503;
  constructor(message: string, options?: { cause?: unknown; retryAfterSeconds?: number; publicMessage?: string }) {
    super(message, options);
    this.retryAfterSeconds = options?.retryAfterSeconds ?? 1;
  }
}
export class BackendThrottledError extends BackendUnavailableError {
  override readonly code: string = 'ERR_BACKEND_THROTTLED';
}
export class NoSigningVersionError extends GatewayError {
  override readonly code: string = 'ERR_NO_SIGNING_VERSION';
  override readonly status: number = 503;
  override retryAfterSeconds = 5;
}
/**
 * The backend gave no answer: refused, reset, timed out, or a 5xx. These, and only these, count
 * toward the backend's circuit breaker: a backend that answers "no" is up.
 */
export class BackendUnreachableError extends BackendUnavailableError {}
/** No answer within the call's timeout (or every caller's deadline passed while it was out). */
export class BackendTimeoutError extends BackendUnreachableError {}

/** Why a request was refused without being worked on (`signet_requests_shed_total{reason}`). */
export type ShedReason = 'queue_full' | 'deadline' | 'circuit_open' | 'overload' | 'shutting_down' | 'not_ready';

/** Refused up front or cut short: the request was not worked on to the end. */
export abstract class ShedError extends GatewayError {
  override readonly status: number = 503;
  override retryAfterSeconds = 1;
  abstract readonly reason: ShedReason;
}
/** The request's end-to-end deadline passed (queueing, backend attempts and retries together). */
export class DeadlineExceededError extends ShedError {
  override readonly code: string = 'ERR_DEADLINE_EXCEEDED';
  readonly reason = 'deadline';
}
/** The backend's circuit is open after repeated failures: no call is made until a trial succeeds. */
export class CircuitOpenError extends ShedError {
  override readonly code: string = 'ERR_BACKEND_CIRCUIT_OPEN';
  readonly reason = 'circuit_open';
}
/** Too much queued work for the ring, or the event loop or heap is over its limit. */
export class OverloadedError extends ShedError {
  override readonly code: string = 'ERR_OVERLOADED';
  constructor(
    message: string,
    readonly reason: 'queue_full' | 'overload' = 'queue_full',
  ) {
    super(message);
  }
}
/** The gateway is draining for shutdown; another replica answers. */
export class ShuttingDownError extends ShedError {
  override readonly code: string = 'ERR_SHUTTING_DOWN';
  readonly reason = 'shutting_down';
}
/** The ring's keys have not loaded yet (the backend was unreachable at start-up); retried with backoff. */
export class NotReadyError extends ShedError {
  override readonly code: string = 'ERR_NOT_READY';
  readonly reason = 'not_ready';
}

// 502: the backend answered, but with something that is not a usable key or signature.
export class BackendResponseError extends GatewayError {
  override readonly code: string = 'ERR_BACKEND_RESPONSE';
  override readonly status: number = 502;
}
export class MalformedDerError extends BackendResponseError {
  override readonly code: string = 'ERR_MALFORMED_DER';
}
export class UnsupportedKeyError extends BackendResponseError {
  override readonly code: string = 'ERR_UNSUPPORTED_KEY';
}
/**
 * The backend no longer has the key a configured ring names (deleted, or a backend restored
 * empty). A server-side fault, never the caller's: 502 so the 5xx alert fires.
 */
export class BackendKeyMissingError extends BackendResponseError {
  override readonly code: string = 'ERR_BACKEND_KEY_MISSING';
}
/** The backend has the key but not this version (trimmed, or its KMS alias deleted). */
export class BackendVersionMissingError extends BackendKeyMissingError {
  override readonly code: string = 'ERR_BACKEND_VERSION_MISSING';
}

/** Start-up only: a config that cannot work. Never reaches HTTP. */
export class ConfigError extends Error {
  readonly code = 'ERR_CONFIG';
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(`${field}: ${message}`);
    this.name = 'ConfigError';
  }
}

/** 409: the action conflicts with the ring's state; only its subclasses are thrown. */
export abstract class ConflictError extends GatewayError {
  override readonly code: string = 'ERR_CONFLICT';
  override readonly status: number = 409;
}
export class RotationInProgressError extends ConflictError {
  override readonly code: string = 'ERR_ROTATION_IN_PROGRESS';
  override retryAfterSeconds = 5;
}

// Integrity: the backend's key no longer matches what was published. Never retried blindly.
export class KeyIntegrityError extends BackendResponseError {
  override readonly code: string = 'ERR_KEY_INTEGRITY';
}

// The audit record of a token could not be written, so the token is not handed out.
export class AuditUnavailableError extends GatewayError {
  override readonly code: string = 'ERR_AUDIT_UNAVAILABLE';
  override readonly status: number = 503;
  override retryAfterSeconds = 5;
}

// A trusted identity provider's keys could not be fetched: not the caller's fault, retry later.
export class IdentityProviderUnavailableError extends BackendUnavailableError {
  override readonly code: string = 'ERR_IDENTITY_PROVIDER_UNAVAILABLE';
}
