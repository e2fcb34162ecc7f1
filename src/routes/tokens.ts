// POST /v1/tokens: a caller with an API key asks for a JWT within its policy.
import type { FastifyPluginAsync } from 'fastify';
import { Deadline } from '../resilience/deadline.js';
import { issueToken, type IssuedToken } from '../tokens/issue.js';
import type { TokenRequest } from '../tokens/policy.js';
import { errorResponses } from './schemas.js';

const audience = { type: 'string', minLength: 1, maxLength: 512 } as const;

export const tokenRequestSchema = {
  type: 'object',
  required: ['audience'],
  additionalProperties: false,
  properties: {
    audience: { anyOf: [audience, { type: 'array', items: audience, minItems: 1, maxItems: 16 }] },
    subject: { type: 'string', minLength: 1, maxLength: 512 },
    ttl_seconds: { type: 'integer', minimum: 1 },
    claims: { type: 'object', maxProperties: 64 },
    key: { type: 'string', minLength: 1, maxLength: 64 },
  },
} as const;

export const tokenRoutes: FastifyPluginAsync = async (app) => {
  const { keys, clients, metrics, clock, audit, signGate, config } = app.signet;
  const limits = config.server.limits;
  // Label lookups hash their label object on every call; bind each (ring, client) pair once.
  const bound = new Map<string, { signSeconds: ReturnType<typeof metrics.signDuration.labels>; issued: ReturnType<typeof metrics.tokensIssued.labels> }>();
  const metricsFor = (ring: string, backend: string, client: string) => {
    const key = `${ring}\u0000${client}`;
    let entry = bound.get(key);
    if (!entry) {
      entry = { signSeconds: metrics.signDuration.labels(ring, backend), issued: metrics.tokensIssued.labels(ring, client) };
      bound.set(key, entry);
    }
    return entry;
  };

  app.post<{ Body: TokenRequest }>(
    '/v1/tokens',
    {
      schema: {
        body: tokenRequestSchema,
        response: {
          200: {
            type: 'object',
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
      const client = clients.authenticate(request.headers.authorization);
      client.consumeRateLimit();
      const authorised = client.authorise(request.body);
      const ring = keys.ring(authorised.ring);
      const started = process.hrtime.bigint();
      // One deadline for the whole request: a stalled backend answers 503 in time, never a hang.
      const deadline = Deadline.after(limits.tokenDeadlineMs);
      let issued: IssuedToken;
      try {
        issued = await signGate.run(ring.name, () => deadline.race(issueToken(ring, authorised, clock(), deadline)));
      } finally {
        deadline.dispose();
      }
      const counters = metricsFor(ring.name, ring.backend.kind, client.name);
      counters.signSeconds.observe(Number(process.hrtime.bigint() - started) / 1e9);
      // The record is with the OS before the token leaves: concurrent tokens share one write.
      await audit.tokenIssued({
        jti: issued.jti,
        iat: issued.issuedAt,
        exp: issued.expiresAt,
        sub: authorised.subject,
        aud: authorised.audience,
        ring: ring.name,
        kid: issued.kid,
        client: client.name,
        client_address: request.ip,
        request_id: request.id,
      });
      counters.issued.inc();
      return { token: issued.token, token_type: 'JWT', kid: issued.kid, expires_at: issued.expiresAt };
    },
  );
};
