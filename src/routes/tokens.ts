// POST /v1/tokens: a caller (API key, workload token or client certificate) asks for a JWT within its policy.
import type { FastifyPluginAsync } from 'fastify';
import type { TokenRequest } from '../tokens/policy.js';
import { errorResponses } from './schemas.js';
import { noteCaller } from '../observability/access-log.js';
import { requestTraceContext } from '../observability/tracing.js';

const audience = { type: 'string', minLength: 1, maxLength: 512 } as const;

// Shapes only; what a string may contain (no control characters, no lone surrogates), claim
// nesting, sizes and numbers are checked by the policy (src/tokens/policy.ts), which names the member.
export const tokenRequestSchema = {
  type: 'object',
  required: ['audience'],
  additionalProperties: false,
  properties: {
    audience: { anyOf: [audience, { type: 'array', items: audience, minItems: 1, maxItems: 16 }], description: 'Must match one of the client\'s audience patterns; urn:signet:* is reserved' },
    subject: { type: 'string', minLength: 1, maxLength: 512, description: 'Defaults to the client\'s name' },
    ttl_seconds: { type: 'integer', minimum: 1, maximum: 31 * 86400 },
    // No maxProperties here: claim_limits.max_members (configurable) is the one limit.
    claims: { type: 'object', description: 'Custom claims: names allowed by the client; depth, members and size within claim_limits' },
    key: { type: 'string', pattern: '^[a-z0-9][a-z0-9_-]{0,63}$', description: 'Ring name; defaults to the client\'s first ring' },
  },
} as const;

export const tokenRoutes: FastifyPluginAsync = async (app) => {
  const { clients, rateLimits, issuer } = app.signet;

  app.post<{ Body: TokenRequest }>(
    '/v1/tokens',
    {
      schema: {
        tags: ['tokens'],
        summary: 'Issue a signed JWT within the caller\'s policy',
        security: [{ apiKey: [] }],
        body: tokenRequestSchema,
        response: {
          200: {
            description: 'The signed token',
            type: 'object',
            additionalProperties: false,
            required: ['token', 'token_type', 'kid', 'expires_at'],
            properties: {
              token: { type: 'string' },
              token_type: { type: 'string' },
              kid: { type: 'string' },
              expires_at: { type: 'integer' },
            },
          },
          ...errorResponses(400, 401, 403, 404, 413, 415, 429, 500, 502, 503),
        },
      },
    },
    async (request) => {
      const caller = await clients.authenticate(request);
      noteCaller(request, caller.name);
      await rateLimits.consume(caller.config);
      const authorised = clients.authorise(caller, request.body);
      const issued = await issuer.issue(authorised, { client: caller.name, client_address: request.ip, request_id: request.id, auth: caller.auth }, requestTraceContext(request));
      return { token: issued.token, token_type: 'JWT', kid: issued.kid, expires_at: issued.expiresAt };
    },
  );
};
