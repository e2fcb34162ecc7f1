// Liveness, readiness and signing health. JWKS availability outranks signing: verifiers of
// tokens already issued must keep working while the backend cannot sign, so readiness (the
// probe that takes a replica out of service) asks only whether the keys are loaded; whether each
// ring can sign right now (lifecycle, backend circuit, last sign and key read: see
// keyring/signing-status.ts) is reported beside it, and by /readyz/signing for alerting.
import type { FastifyPluginAsync } from 'fastify';
import { ringSigningStatus } from '../keyring/signing-status.js';
import { errorBody, errorResponses } from './schemas.js';

export const healthRoutes: FastifyPluginAsync = async (app) => {
  const { keys } = app.signet;

  app.get('/healthz', { schema: { tags: ['operations'], response: { 200: { description: 'The process serves', type: 'object', properties: { status: { type: 'string' } } }, ...errorResponses() } } }, async () => ({ status: 'ok' }));

  const rings = () => [...keys.rings.values()].map(ringSigningStatus);
  const schema = (ok: string, notOk: string) => ({
    tags: ['operations'],
    response: {
      ...errorResponses(),
      '2xx': { description: ok, $ref: 'signet-readiness#' },
      503: { description: `${notOk}, or the replica is shutting down`, anyOf: [{ $ref: 'signet-readiness#' }, errorBody] },
    },
  });

  app.get('/readyz', { schema: schema('Every ring is loaded: the JWKS can be served', 'Some ring has not loaded its keys (the body says which)') }, async (_request, reply) => {
    const status = rings();
    const ready = status.every((ring) => ring.loaded);
    return reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : 'not_ready', rings: status });
  });

  app.get('/readyz/signing', { schema: schema('Every ring can sign now', 'Some ring cannot sign now (the body says which and why)') }, async (_request, reply) => {
    const status = rings();
    const signing = status.every((ring) => ring.can_sign);
    return reply.code(signing ? 200 : 503).send({ status: signing ? 'signing' : 'not_signing', rings: status });
  });
};

export const readinessSchema = {
  $id: 'signet-readiness',
  type: 'object',
  properties: {
    status: { type: 'string' },
    rings: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          name: { type: 'string' },
          loaded: { type: 'boolean' },
          can_sign: { type: 'boolean' },
          signing_version: { type: ['integer', 'null'] },
          reason: { type: 'string' },
          refresh_error: { type: 'string' },
        },
      },
    },
    // A replica that is draining answers its probes with the error body (503 ERR_SHUTTING_DOWN).
    error: errorBody.properties.error,
  },
} as const;
