// Prometheus scrape endpoint.
import type { FastifyPluginAsync } from 'fastify';
import { errorResponses } from './schemas.js';

export const metricsRoutes: FastifyPluginAsync = async (app) => {
  const { registry } = app.signet.metrics;
  const schema = {
    tags: ['operations'],
    response: { 200: { description: 'Prometheus text exposition format', content: { [registry.contentType]: { schema: { type: 'string' } } } }, ...errorResponses() },
  };
  app.get('/metrics', { schema }, async (_request, reply) => reply.type(registry.contentType).send(await registry.metrics()));
};
