// The OpenAPI 3.1 document, generated from the route schemas by @fastify/swagger and served at
// /openapi.json. The route schemas stay the one source: what is validated is what is documented.
import swagger from '@fastify/swagger';
import type { FastifyInstance, FastifyPluginAsync } from 'fastify';

/** Registers the generator; call before any route so every route is seen. */
export async function registerOpenApi(app: FastifyInstance): Promise<void> {
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Signet',
        version: '1',
        description:
          'Signing gateway: JWTs signed by non-exportable keys, published as a rotation-safe JWKS. Every error has the body {"error":{"code","message"}}; callers branch on code.',
      },
      components: {
        securitySchemes: {
          apiKey: { type: 'http', scheme: 'bearer', description: 'A client API key (clients[].api_key_sha256 holds its SHA-256)' },
          adminKey: { type: 'http', scheme: 'bearer', description: 'An admin API key (admin.api_key_sha256)' },
        },
      },
    },
  });
}

export const openApiRoutes: FastifyPluginAsync = async (app) => {
  let document: string | undefined; // routes are fixed once the app is ready
  app.get('/openapi.json', { schema: { hide: true } }, async (_request, reply) => {
    document ??= JSON.stringify(app.swagger());
    return reply.type('application/json; charset=utf-8').send(document);
  });
};
