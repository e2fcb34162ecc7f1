// A gateway whose server.public_url is its real address, for tests of what it advertises
// (OAuth discovery, token endpoint, client assertion audiences): the port is chosen first.
import { join } from 'node:path';
import pino from 'pino';
import { buildApp } from '../../src/app.js';
import { LineSink } from '../../src/observability/line-sink.js';
import { freePort } from '../harness/tools.js';
import { configFrom, tempDir, type RunningGateway } from './gateway.js';

export async function startPublicGateway(raw: Record<string, unknown>, { scheme = 'http' } = {}): Promise<RunningGateway> {
  const port = await freePort();
  const server = (raw.server ?? {}) as Record<string, unknown>;
  const config = configFrom({ ...raw, server: { ...server, port, public_url: `${scheme}://127.0.0.1:${port}` } });
  const auditFile = join(tempDir('signet-audit-'), 'audit.jsonl');
  const auditSink = LineSink.open(auditFile);
  const app = await buildApp(config, { logger: pino({ level: process.env.SIGNET_TEST_LOG ?? 'silent' }), auditSink });
  await app.listen({ host: '127.0.0.1', port });
  return {
    app,
    url: config.server.publicUrl,
    auditFile,
    close: async () => {
      await app.close();
      auditSink.close();
    },
  };
}
