// Liveness (the process serves) and readiness (every ring has keys and a version that signs).
import type { FastifyPluginAsync } from 'fastify';
import { errorBody, errorResponses } from './schemas.js';

export const healthRoutes: FastifyPluginAsync = async (app) => {
  const { keys } = app.signet;

  app.get('/healthz', { schema: { tags: ['operations'], response: { 200: { description: 'The process serves', type: 'object', properties: { status: { type: 'string' } } }, ...errorResponses() } } }, async () => ({ status: 'ok' }));

  app.get(
    '/readyz',
    {
      schema: {
        tags: ['operations'],
        response: {
          ...errorResponses(),
          '2xx': { description: 'Every ring is loaded and can sign', $ref: 'signet-readiness#' },
          503: { description: 'Some ring cannot sign (the body says which), or the replica is shutting down', anyOf: [{ $ref: 'signet-readiness#' }, errorBody] },
        },
      },
    },
    async (_request, reply) => {
      const rings = [...keys.rings.values()].map((ring) => {
        const refreshError = keys.refreshFailures.get(ring.name);
        const signing = ring.loaded ? ring.current().view.signing : null;
        return { name: ring.name, loaded: ring.loaded, signing_version: signing, ...(refreshError ? { refresh_error: refreshError } : {}) };
      });
      const ready = rings.every((ring) => ring.loaded && ring.signing_version !== null);
      return reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : 'not_ready', rings });
    },
  );
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
          signing_version: { type: ['integer', 'null'] },
          refresh_error: { type: 'string' },
        },
      },
    },
  },
} as const;
