// Liveness (the process serves) and readiness (every ring has keys and a version that signs).
import type { FastifyPluginAsync } from 'fastify';

export const healthRoutes: FastifyPluginAsync = async (app) => {
  const { keys } = app.signet;

  app.get('/healthz', { schema: { response: { 200: { type: 'object', properties: { status: { type: 'string' } } } } } }, async () => ({ status: 'ok' }));

  app.get(
    '/readyz',
    {
      schema: {
        response: {
          '2xx': { $ref: 'signet-readiness#' },
          503: { $ref: 'signet-readiness#' },
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
