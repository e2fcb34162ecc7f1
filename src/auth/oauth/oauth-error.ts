// OAuth's own error body (RFC 6749 §5.2), the one documented exception to Signet's error body,
// used only on /oauth2/token. Signet's typed errors map to OAuth codes through one table.
import { GatewayError } from '../../errors.js';
import { publicMessage } from '../../http/error-reply.js';

export type OAuthErrorCode =
  | 'invalid_request'
  | 'invalid_client'
  | 'invalid_grant'
  | 'unauthorized_client'
  | 'unsupported_grant_type'
  | 'invalid_scope'
  | 'invalid_target'
  | 'temporarily_unavailable'
  | 'server_error';

export class OAuthError extends Error {
  constructor(
    readonly error: OAuthErrorCode,
    readonly description: string,
    readonly status: number = error === 'invalid_client' ? 401 : 400,
    /** RFC 6749 §5.2: a client that tried Basic gets a Basic challenge with its 401. */
    readonly basicChallenge = false,
  ) {
    super(description);
    this.name = 'OAuthError';
  }
}

/** Signet's stable codes → the OAuth error a client library understands (RFC 6749, 8693, 8707). */
const BY_CODE: Readonly<Record<string, OAuthErrorCode>> = {
  ERR_UNAUTHENTICATED: 'invalid_client',
  ERR_AUDIENCE_NOT_ALLOWED: 'invalid_target',
  ERR_CLAIM_NOT_ALLOWED: 'invalid_scope',
  ERR_RESERVED_CLAIM: 'invalid_scope',
  ERR_SUBJECT_NOT_ALLOWED: 'invalid_request',
  ERR_RING_NOT_ALLOWED: 'unauthorized_client',
  ERR_RATE_LIMITED: 'temporarily_unavailable',
};

// RFC 6749 §5.2 answers 400 (401 for invalid_client); statuses that say something else HTTP-wise stay.
const KEPT_STATUSES: ReadonlySet<number> = new Set([413, 415, 429]);
function oauthStatus(code: OAuthErrorCode, status: number): number {
  if (code === 'invalid_client') return 401;
  return KEPT_STATUSES.has(status) || status >= 500 ? status : 400;
}

/** Framework errors (validation, parsing, limits) carry a status and an FST code, not a GatewayError. */
interface FrameworkError extends Error {
  statusCode?: number;
  validation?: unknown;
}

/** The OAuth answer, and the code counted in signet_request_errors_total (Signet's own where there is one, so 5xx alerts see them). */
export function toOAuthError(error: unknown, requestId: string): { oauth: OAuthError; metricCode: string; retryAfterSeconds?: number; internal: boolean } {
  if (error instanceof OAuthError) return { oauth: error, metricCode: `oauth:${error.error}`, internal: false };
  if (error instanceof GatewayError) {
    const code = BY_CODE[error.code] ?? (error.status === 503 ? 'temporarily_unavailable' : error.status >= 500 ? 'server_error' : 'invalid_request');
    // A 5xx says in words what failed, as on every route; its own message (which may quote Vault,
    // Redis, undici or a provider's URL) goes to the log only.
    const description = publicMessage(error, requestId);
    return { oauth: new OAuthError(code, description, oauthStatus(code, error.status)), metricCode: error.code, retryAfterSeconds: error.retryAfterSeconds, internal: error.status === 500 };
  }
  const framework = error as FrameworkError;
  if (framework.validation) return { oauth: new OAuthError('invalid_request', `request ${framework.message.replace(/^body\/?/, '')}`.trim()), metricCode: 'oauth:invalid_request', internal: false };
  const status = framework.statusCode;
  if (status && status >= 400 && status < 500) return { oauth: new OAuthError('invalid_request', framework.message, status), metricCode: 'oauth:invalid_request', internal: false };
  return { oauth: new OAuthError('server_error', 'internal error', 500), metricCode: 'ERR_INTERNAL', internal: true };
}

/** error_description may only hold %x20-21 / %x23-5B / %x5D-7E (RFC 6749 §5.2): no `"`, `\` or non-ASCII. */
export function describable(text: string): string {
  return text.replace(/"/g, "'").replace(/\\/g, '/').replace(/[^\x20-\x7e]/g, '?');
}
