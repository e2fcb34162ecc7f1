// KMS failures → typed errors with stable codes, after the SDK's own retries are spent.
import {
  BackendKeyMissingError,
  BackendResponseError,
  BackendThrottledError,
  BackendTimeoutError,
  BackendUnavailableError,
  BackendUnreachableError,
  BackendVersionMissingError,
  GatewayError,
} from '../../errors.js';
import type { KeyRef } from '../backend.js';

// Key states in which KMS refuses to sign: the version is treated as revoked.
export const DISABLED_STATES: ReadonlySet<string> = new Set(['Disabled', 'PendingDeletion', 'PendingReplicaDeletion']);
// Errors KMS returns for a key in one of those states (e.g. GetPublicKey on a disabled key).
export const KEY_STATE_ERRORS: ReadonlySet<string> = new Set(['DisabledException', 'KMSInvalidStateException']);
const THROTTLING_ERRORS: ReadonlySet<string> = new Set(['ThrottlingException', 'TooManyRequestsException', 'RequestLimitExceeded', 'SlowDown']);
const CREDENTIAL_ERRORS: ReadonlySet<string> = new Set([
  'CredentialsProviderError',
  'UnrecognizedClientException',
  'InvalidClientTokenId',
  'InvalidSignatureException',
  'ExpiredTokenException',
  'ExpiredToken',
  'IncompleteSignature',
]);
const UNAVAILABLE_ERRORS: ReadonlySet<string> = new Set(['KMSInternalException', 'DependencyTimeoutException', 'KeyUnavailableException', 'ServiceUnavailable', 'InternalFailure']);
// No answer in time: a request timeout of the SDK's handler, or the deadline's abort (the SDK
// passes the signal's reason through, or names it AbortError).
const TIMEOUT_ERRORS: ReadonlySet<string> = new Set(['TimeoutError', 'RequestTimeout', 'RequestTimeoutException', 'AbortError', 'DeadlineExceededError']);

interface SdkError {
  name?: string;
  message?: string;
  code?: string;
  $fault?: 'client' | 'server';
  $metadata?: { httpStatusCode?: number; attempts?: number };
}

export const errorName = (error: unknown): string | undefined => (error as SdkError | undefined)?.name;

/** Maps a failed KMS call to a typed error, after the SDK's own retries are spent. Never returns a plain Error. */
export function kmsError(error: unknown, ref: KeyRef, action: string, version?: number): GatewayError {
  if (error instanceof GatewayError && !TIMEOUT_ERRORS.has(error.name)) return error;
  const failure = (error ?? {}) as SdkError;
  const name = failure.name ?? 'Error';
  const status = failure.$metadata?.httpStatusCode;
  const attempts = failure.$metadata?.attempts;
  const where = `KMS ${action} for ring "${ref.ring}" (alias/${ref.key}${version === undefined ? '' : `/v${version}`})`;
  const tried = attempts && attempts > 1 ? ` after ${attempts} attempts` : '';
  if (THROTTLING_ERRORS.has(name) || status === 429) {
    return new BackendThrottledError(`${where}: throttled by KMS${tried}`, { cause: error, retryAfterSeconds: 1 });
  }
  if (name === 'LimitExceededException') {
    // KMS uses this for resource quotas (keys, aliases) as well as rates: retrying in 1 s rarely helps.
    return new BackendThrottledError(`${where}: a KMS quota was exceeded${tried}`, { cause: error, retryAfterSeconds: 30 });
  }
  if (TIMEOUT_ERRORS.has(name) || failure.code === 'ABORT_ERR') {
    return new BackendTimeoutError(`${where}: no answer from KMS in time${tried}`, { cause: error });
  }
  if (name === 'NotFoundException') {
    return version === undefined
      ? new BackendKeyMissingError(`${where}: not found in KMS`, { cause: error })
      : new BackendVersionMissingError(`${where}: the version's KMS key was not found`, { cause: error });
  }
  if (name === 'AccessDeniedException' || name === 'AccessDenied' || status === 403) {
    return new BackendUnavailableError(`${where}: access denied (check the IAM policy; see infra/aws)`, { cause: error, retryAfterSeconds: 5 });
  }
  if (CREDENTIAL_ERRORS.has(name)) {
    return new BackendUnavailableError(`${where}: no valid AWS credentials (${name})`, { cause: error, retryAfterSeconds: 5 });
  }
  if (KEY_STATE_ERRORS.has(name)) {
    // The key was disabled or scheduled for deletion after our last refresh; the next refresh marks
    // the version revoked and the ring stops choosing it, so a retry shortly after can succeed.
    return new BackendUnavailableError(`${where}: the KMS key is disabled or pending deletion`, { cause: error, retryAfterSeconds: 5 });
  }
  if (UNAVAILABLE_ERRORS.has(name) || failure.$fault === 'server' || (status !== undefined && status >= 500)) {
    return new BackendUnreachableError(`${where}: KMS unavailable (${status ? `HTTP ${status} ` : ''}${name})${tried}`, { cause: error });
  }
  if (status === undefined) {
    // No HTTP response at all: DNS, connection refused, TLS, timeout.
    return new BackendUnreachableError(`${where}: KMS unreachable (${failure.code ?? name})${tried}`, { cause: error });
  }
  return new BackendResponseError(`${where}: ${name}: ${failure.message ?? 'request rejected'}`, { cause: error });
}

