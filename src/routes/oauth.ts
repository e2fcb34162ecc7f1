// POST /oauth2/token: client_credentials and RFC 8693 token exchange, form-encoded, for OAuth
// client libraries; GET /.well-known/oauth-authorization-server (RFC 8414). Tokens come from the
// same policy, signer and audit trail as POST /v1/tokens; errors use OAuth's body (RFC 6749 §5.2).
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import { UnauthenticatedError } from '../errors.js';
import { quoted, type Caller } from '../auth/callers.js';
import { authenticateClient, type ClientAuthParams } from '../auth/oauth/client-auth.js';
import { authorizationServerMetadata, GRANT_TYPES, TOKEN_ENDPOINT_PATH, TOKEN_EXCHANGE_GRANT, tokenEndpointMetadataSchema } from '../auth/oauth/metadata.js';
import { errorResponses } from './schemas.js';
import { noteCaller } from '../observability/access-log.js';
import { failRequestSpan, requestTraceContext } from '../observability/tracing.js';
import { describable, OAuthError, toOAuthError } from '../auth/oauth/oauth-error.js';
import { utf8Body } from '../http/contract.js';

const TOKEN_TYPE_JWT = 'urn:ietf:params:oauth:token-type:jwt';
const TOKEN_TYPE_ACCESS_TOKEN = 'urn:ietf:params:oauth:token-type:access_token';
const ISSUABLE_TOKEN_TYPES = [TOKEN_TYPE_ACCESS_TOKEN, TOKEN_TYPE_JWT];
// RFC 6749 §3.3: scope tokens are printable ASCII without space, `"` and `\`, joined by single spaces.
const SCOPE = /^[\x21\x23-\x5b\x5d-\x7e]+(?: [\x21\x23-\x5b\x5d-\x7e]+)*$/;
const MAX_AUDIENCES = 16;

interface TokenParams extends ClientAuthParams {
  grant_type: string;
  scope?: string;
  audience?: string | string[];
  resource?: string | string[];
  subject_token?: string;
  subject_token_type?: string;
  requested_token_type?: string;
  actor_token?: string;
}

// OAuth's error body (RFC 6749 §5.2) for every error status of the token endpoint.
const oauthErrorBody = {
  type: 'object',
  required: ['error'],
  additionalProperties: false,
  properties: { error: { type: 'string', pattern: '^[a-z_]+$' }, error_description: { type: 'string' } },
} as const;
const oauthErrorResponses = Object.fromEntries(
  ['400', '401', '413', '415', '429', '500', '503', '4xx', '5xx'].map((status) => [status, { ...oauthErrorBody, description: 'OAuth error (RFC 6749 §5.2)' }]),
);

const text = (maxLength: number) => ({ type: 'string', maxLength }) as const;
const repeatable = { anyOf: [text(2048), { type: 'array', items: text(2048), maxItems: MAX_AUDIENCES }] } as const;

// Each parameter at most once (the schema refuses an array), except audience and resource (RFC 8693, 8707).
const paramsSchema = {
  type: 'object',
  required: ['grant_type'],
  properties: {
    grant_type: text(256),
    scope: text(2048),
    audience: repeatable,
    resource: repeatable,
    subject_token: text(16_384),
    subject_token_type: text(256),
    requested_token_type: text(256),
    actor_token: text(16_384),
    actor_token_type: text(256),
    client_id: text(256),
    client_secret: text(512),
    client_assertion: text(16_384),
    client_assertion_type: text(256),
  },
} as const;

/**
 * A form body as an object: repeated names become arrays (the schema then refuses a repeated
 * grant_type, RFC 6749 §3.2), no prototype, so no name is special. Split and percent-decoded by
 * hand (the WHATWG steps) rather than with URLSearchParams, which turns invalid UTF-8 into U+FFFD
 * silently and so would change what gets signed; here it is refused.
 */
function parseForm(body: string): Record<string, string | string[]> {
  const params: Record<string, string | string[]> = Object.create(null);
  const decode = (text: string): string => {
    try {
      return decodeURIComponent(text.replace(/\+/g, ' '));
    } catch {
      throw new OAuthError('invalid_request', `the form parameter ${quoted(text)} is not valid percent-encoded UTF-8`);
    }
  };
  for (const pair of body.split('&')) {
    if (pair === '') continue;
    const equals = pair.indexOf('=');
    const name = decode(equals < 0 ? pair : pair.slice(0, equals));
    const value = equals < 0 ? '' : decode(pair.slice(equals + 1));
    const seen = params[name];
    params[name] = seen === undefined ? value : [...(Array.isArray(seen) ? seen : [seen]), value];
  }
  return params;
}

const list = (value: string | string[] | undefined): string[] => (value === undefined ? [] : Array.isArray(value) ? value : [value]);

/** The token's audiences: `audience` values and `resource` URIs (RFC 8707: absolute, no fragment). */
function requestedAudiences(params: TokenParams): string[] {
  for (const resource of list(params.resource)) {
    let url: URL | undefined;
    try {
      url = new URL(resource);
    } catch {
      url = undefined;
    }
    if (!url || resource.includes('#')) throw new OAuthError('invalid_target', `resource ${quoted(resource)} must be an absolute URI without a fragment`);
  }
  const audiences = [...new Set([...list(params.audience), ...list(params.resource)])];
  if (audiences.length === 0) throw new OAuthError('invalid_request', 'name the token\'s audience with audience or resource');
  if (audiences.length > MAX_AUDIENCES) throw new OAuthError('invalid_request', `at most ${MAX_AUDIENCES} audiences`);
  if (audiences.some((audience) => audience.length === 0)) throw new OAuthError('invalid_request', 'an audience may not be empty');
  return audiences;
}

interface Grant {
  caller: Caller;
  subject?: string;
  issuedTokenType?: string;
}

export const oauthRoutes: FastifyPluginAsync = async (app) => {
  const { clients, rateLimits, metrics, issuer, config } = app.signet;
  const metadata = authorizationServerMetadata(config);
  // Client assertions are addressed to the issuer or to the token endpoint itself (RFC 7523 §3).
  const assertionAudiences = [config.server.publicUrl, metadata.token_endpoint];

  app.get(
    '/.well-known/oauth-authorization-server',
    {
      schema: {
        response: {
          200: {
            type: 'object',
            properties: {
              issuer: { type: 'string' },
              jwks_uri: { type: 'string' },
              ...tokenEndpointMetadataSchema,
              response_types_supported: { type: 'array', items: { type: 'string' } },
              tls_client_certificate_bound_access_tokens: { type: 'boolean' },
            },
          },
          ...errorResponses(),
        },
      },
    },
    async (_request, reply) => {
      reply.header('cache-control', 'public, max-age=3600');
      return metadata;
    },
  );

  // Only this plugin reads forms, and only this route: every other route stays JSON-only.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'buffer' }, (request, body, done) => {
    const text = utf8Body(request.headers, body as Buffer, 'form body', () => new OAuthError('invalid_request', 'the form body is not valid UTF-8'));
    if (text instanceof Error) return done(text, undefined);
    try {
      done(null, parseForm(text));
    } catch (error) {
      done(error as Error, undefined);
    }
  });

  app.setErrorHandler((rawError, request, reply) => {
    // No body at all reaches the schema as "request must be object": say what to send instead.
    const error = (rawError as { validation?: unknown }).validation && request.body === undefined ? new OAuthError('invalid_request', 'send the parameters as an application/x-www-form-urlencoded body') : rawError;
    const { oauth, metricCode, retryAfterSeconds, internal } = toOAuthError(error, request.id);
    metrics.requestErrors.inc({ code: metricCode });
    failRequestSpan(request, metricCode);
    if (internal) request.log.error({ reqId: request.id, err: error }, 'token endpoint failed');
    else if (oauth.status >= 500) request.log.warn({ reqId: request.id, code: metricCode, err: error }, 'token endpoint could not answer');
    else request.log.info({ reqId: request.id, code: oauth.error, reason: oauth.description, url: TOKEN_ENDPOINT_PATH }, 'request rejected');
    reply.header('cache-control', 'no-store').header('pragma', 'no-cache');
    if (oauth.basicChallenge) reply.header('www-authenticate', 'Basic realm="signet", charset="UTF-8"');
    if (retryAfterSeconds !== undefined) reply.header('retry-after', String(retryAfterSeconds));
    return reply.code(oauth.status).send({ error: oauth.error, error_description: describable(oauth.description) });
  });

  const clientCredentials = async (caller: Caller | undefined): Promise<Grant> => {
    if (!caller) throw new OAuthError('invalid_client', 'client_credentials needs client authentication: client_secret_basic, client_secret_post, private_key_jwt or tls_client_auth');
    return { caller };
  };

  // RFC 8693: the subject_token is a workload token from a trusted provider. Without client
  // authentication it identifies the client itself; with it, it names the subject the client asks about.
  const tokenExchange = async (caller: Caller | undefined, params: TokenParams): Promise<Grant> => {
    if (params.subject_token === undefined) throw new OAuthError('invalid_request', 'token exchange needs subject_token');
    if (params.subject_token_type !== TOKEN_TYPE_JWT) throw new OAuthError('invalid_request', `subject_token_type must be ${TOKEN_TYPE_JWT}`);
    if (params.actor_token !== undefined) throw new OAuthError('invalid_request', 'actor_token (delegation) is not supported');
    if (params.requested_token_type !== undefined && !ISSUABLE_TOKEN_TYPES.includes(params.requested_token_type)) {
      throw new OAuthError('invalid_request', `requested_token_type must be one of ${ISSUABLE_TOKEN_TYPES.join(', ')}`);
    }
    const set = clients.current;
    try {
      const verified = await set.providers.verify(params.subject_token);
      const format = (c: Caller) => params.requested_token_type ?? (c.config.identity?.accessTokenFormat === 'rfc9068' ? TOKEN_TYPE_ACCESS_TOKEN : TOKEN_TYPE_JWT);
      if (caller) return { caller, subject: String(verified.claims.sub), issuedTokenType: format(caller) };
      const identified = set.matchIdentity(verified, 'subject_token');
      if (params.client_id !== undefined && params.client_id !== identified.name) {
        throw new UnauthenticatedError(`the subject_token identifies client "${identified.name}", not ${quoted(params.client_id)}`);
      }
      return { caller: identified, issuedTokenType: format(identified) };
    } catch (error) {
      // RFC 8693 §2.2.2: a subject_token that is invalid or unacceptable is invalid_request.
      if (error instanceof UnauthenticatedError) throw new OAuthError('invalid_request', `subject_token refused: ${error.message}`);
      throw error;
    }
  };

  const grants: Readonly<Record<(typeof GRANT_TYPES)[number], (caller: Caller | undefined, params: TokenParams) => Promise<Grant>>> = {
    client_credentials: clientCredentials,
    [TOKEN_EXCHANGE_GRANT]: tokenExchange,
  };

  app.post<{ Body: TokenParams }>(
    TOKEN_ENDPOINT_PATH,
    {
      schema: {
        body: paramsSchema,
        response: {
          200: {
            type: 'object',
            required: ['access_token', 'token_type', 'expires_in'],
            properties: {
              access_token: { type: 'string' },
              token_type: { type: 'string' },
              expires_in: { type: 'integer' },
              issued_token_type: { type: 'string' },
              scope: { type: 'string' },
            },
          },
          ...oauthErrorResponses,
        },
      },
    },
    async (request: FastifyRequest<{ Body: TokenParams }>, reply) => {
      const params = request.body;
      const grant = grants[params.grant_type as (typeof GRANT_TYPES)[number]];
      if (!grant) throw new OAuthError('unsupported_grant_type', `grant_type must be one of ${GRANT_TYPES.join(', ')}`);
      const authenticated = await authenticateClient(request, params, clients.current, assertionAudiences);
      const { caller, subject, issuedTokenType } = await grant(authenticated, params);
      noteCaller(request, caller.name);
      const audience = requestedAudiences(params);
      if (params.scope !== undefined && !SCOPE.test(params.scope)) throw new OAuthError('invalid_scope', 'scope must be space-separated printable ASCII tokens');
      await rateLimits.consume(caller.config);
      const authorised = clients.authorise(caller, { audience: audience.length === 1 ? audience[0]! : audience, ...(subject !== undefined ? { subject } : {}), claims: params.scope ? { scope: params.scope } : {} });
      const rfc9068 = caller.config.identity?.accessTokenFormat === 'rfc9068';
      // RFC 9068 §2.2: client_id is set by the gateway, after the policy saw the caller's claims.
      const issued = await issuer.issue(
        { ...authorised, claims: rfc9068 ? { ...authorised.claims, client_id: caller.name } : authorised.claims, typ: rfc9068 ? 'at+jwt' : 'JWT' },
        { client: caller.name, client_address: request.ip, request_id: request.id, auth: caller.auth, grant_type: params.grant_type },
        requestTraceContext(request),
      );
      reply.header('cache-control', 'no-store').header('pragma', 'no-cache');
      return {
        access_token: issued.token,
        token_type: 'Bearer',
        expires_in: issued.expiresAt - issued.issuedAt,
        ...(issuedTokenType ? { issued_token_type: issuedTokenType } : {}),
        ...(params.scope ? { scope: params.scope } : {}),
      };
    },
  );
};
