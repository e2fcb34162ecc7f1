// Prometheus scrape endpoint.
import type { FastifyPluginAsync } from 'fastify';
import { errorResponses } from './schemas.js';

export const metricsRoutes: FastifyPluginAsync = async (app) => {
  const { metrics } = app.signet;
  const { contentType } = metrics.registry;
  const schema = {
    tags: ['operations'],
    response: { 200: { description: 'Prometheus text exposition format', content: { [contentType]: { schema: { type: 'string' } } } }, ...errorResponses() },
  };
  app.get('/metrics', { schema }, async (_request, reply) => reply.type(contentType).send(await metrics.scrape()));
};
