// The JWKS ceiling: a Fastify server that answers one route with a constant JSON body (the same
// bytes the gateway serves) and does nothing else. Run as its own process by bench/run.ts.
import { readFileSync } from 'node:fs';
import Fastify from 'fastify';

const port = Number(process.env.BENCH_TRIVIAL_PORT);
const bodyFile = process.env.BENCH_TRIVIAL_BODY_FILE;
if (!Number.isInteger(port) || !bodyFile) {
  process.stderr.write('trivial-server: set BENCH_TRIVIAL_PORT and BENCH_TRIVIAL_BODY_FILE\n');
  process.exit(2);
}
const body = readFileSync(bodyFile);

const app = Fastify({ logger: false });
app.get('/.well-known/jwks.json', (_request, reply) => reply.type('application/json').send(body));
await app.listen({ host: '127.0.0.1', port });

const stop = (): void => {
  void app.close().finally(() => process.exit(0));
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
