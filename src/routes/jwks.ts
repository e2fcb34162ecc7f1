// Public, unauthenticated key discovery: the JWKS (all rings and per ring) and OIDC discovery.
// The hot path picks precomputed bytes; only the Cache-Control number is computed per request.
import cors from '@fastify/cors';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { errorResponses, ringParams } from './schemas.js';
import { tokenEndpointMetadata, tokenEndpointMetadataSchema } from '../auth/oauth/metadata.js';
import { ATTR, requestSpan, tracing } from '../observability/tracing.js';

// ETag lists may carry several tags and weak forms (W/"x"); a match on any is a hit (RFC 9110 §13.1.2).
function etagMatches(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  if (header.trim() === '*') return true;
  return header.split(',').some((tag) => tag.trim().replace(/^W\//, '') === etag);
}

export const jwksRoutes: FastifyPluginAsync = async (app) => {
  const { keys, config, metrics } = app.signet;
  const { staleWhileRevalidateMs, staleIfErrorMs, corsOrigins } = config.jwks;
  const staleDirectives = `stale-while-revalidate=${staleWhileRevalidateMs / 1000}, stale-if-error=${staleIfErrorMs / 1000}`;

  // CORS only here, on the public discovery routes. @fastify/cors also adds a catch-all OPTIONS
  // route, which would answer preflights for /v1/tokens and /v1/admin: send that to the 404/405 answer.
  app.addHook('onRequest', (request, reply, done) => {
    if (request.routeOptions.url === '*') return reply.callNotFound();
    done();
  });
  await app.register(cors, { origin: corsOrigins.includes('*') ? '*' : corsOrigins, methods: ['GET', 'HEAD'], allowedHeaders: ['If-None-Match'], strictPreflight: false, maxAge: 86400 });
  const preflight = (path: string) => app.options(path, { schema: { hide: true } }, async (_request, reply) => reply.code(204).send());

  const served = metrics.jwksRequests.labels('200');
  const notModified = metrics.jwksRequests.labels('304');
  // The header only changes with max-age: keep the last string instead of building one per request.
  let cacheControl = { maxAge: -1, value: '' };
  const cacheControlFor = (maxAge: number): string => {
    if (cacheControl.maxAge !== maxAge) cacheControl = { maxAge, value: `public, max-age=${maxAge}, ${staleDirectives}` };
    return cacheControl.value;
  };

  function sendJwks(request: FastifyRequest, reply: FastifyReply, ring?: string): FastifyReply {
    const { document, maxAgeSeconds } = keys.jwks(ring);
    reply.header('cache-control', cacheControlFor(maxAgeSeconds)).header('etag', document.etag);
    const notModifiedHere = etagMatches(request.headers['if-none-match'], document.etag);
    // The SERVER span of a JWKS request says which set and whether the cached copy was still good.
    if (tracing.on) requestSpan(request)?.setAttributes({ [ATTR.jwksRing]: ring ?? '*', [ATTR.notModified]: notModifiedHere });
    if (notModifiedHere) {
      notModified.inc();
      return reply.code(304).send();
    }
    served.inc();
    return reply.type('application/json').send(document.body);
  }

  const jwk = {
    type: 'object',
    required: ['kty', 'use', 'alg', 'kid'],
    additionalProperties: false,
    properties: Object.fromEntries(['kty', 'use', 'alg', 'kid', 'crv', 'x', 'y', 'n', 'e'].map((member) => [member, { type: 'string' }])),
  };
  const jwksSchema = {
    tags: ['discovery'],
    response: {
      200: { description: 'The published keys (sent as precomputed bytes)', type: 'object', required: ['keys'], additionalProperties: false, properties: { keys: { type: 'array', items: jwk } } },
      304: { description: 'Not modified (If-None-Match matched the ETag)', type: 'null' },
      ...errorResponses(404, 503),
    },
  };
  app.get('/.well-known/jwks.json', { schema: jwksSchema }, (request, reply) => sendJwks(request, reply));
  app.get<{ Params: { ring: string } }>('/rings/:ring/.well-known/jwks.json', { schema: { params: ringParams, ...jwksSchema } }, (request, reply) =>
    sendJwks(request, reply, request.params.ring),
  );
  preflight('/.well-known/jwks.json');
  preflight('/rings/:ring/.well-known/jwks.json');

  const discoverySchema = {
    tags: ['discovery'],
    response: {
      200: {
        description: 'OpenID Connect discovery metadata',
        type: 'object',
        required: ['issuer', 'jwks_uri', 'id_token_signing_alg_values_supported', 'response_types_supported', 'subject_types_supported'],
        properties: {
          issuer: { type: 'string' },
          jwks_uri: { type: 'string' },
          id_token_signing_alg_values_supported: { type: 'array', items: { type: 'string' } },
          response_types_supported: { type: 'array', items: { type: 'string' } },
          subject_types_supported: { type: 'array', items: { type: 'string' } },
          ...tokenEndpointMetadataSchema,
        },
      },
      ...errorResponses(404),
    },
  };
  preflight('/.well-known/openid-configuration');
  preflight('/rings/:ring/.well-known/openid-configuration');
  const publicUrl = config.server.publicUrl;
  const discovery = (issuer: string, jwksUri: string, algs: string[]) => ({
    issuer,
    jwks_uri: jwksUri,
    id_token_signing_alg_values_supported: [...new Set(algs)],
    // Required members of OIDC discovery; Signet issues tokens to services, not via OAuth flows.
    response_types_supported: ['id_token'],
    subject_types_supported: ['public'],
  });
  const allAlgs = [...config.rings.values()].map((ring) => ring.alg);
  const rootDiscovery = { ...discovery(publicUrl, `${publicUrl}/.well-known/jwks.json`, allAlgs), ...tokenEndpointMetadata(config) };
  app.get('/.well-known/openid-configuration', { schema: discoverySchema }, async (_request, reply) => {
    reply.header('cache-control', 'public, max-age=3600');
    return rootDiscovery;
  });
  app.get<{ Params: { ring: string } }>('/rings/:ring/.well-known/openid-configuration', { schema: { params: ringParams, ...discoverySchema } }, async (request, reply) => {
    const ring = keys.ring(request.params.ring).config;
    reply.header('cache-control', 'public, max-age=3600');
    return discovery(ring.issuer, `${publicUrl}/rings/${ring.name}/.well-known/jwks.json`, [ring.alg]);
  });
};
