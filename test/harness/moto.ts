// moto's server: a real HTTP implementation of the KMS API (DESIGN.md lists where it differs from AWS).
import { pythonTool, freePort, startServer, type RunningServer } from './tools.js';

/** moto keeps everything in memory: started again on the same `port`, it comes back empty. */
export async function startMoto(port?: number): Promise<RunningServer> {
  const moto = pythonTool('moto_server', 'moto[server]');
  port ??= await freePort();
  const url = `http://127.0.0.1:${port}`;
  return startServer('moto', moto, ['-H', '127.0.0.1', '-p', String(port)], url, async () => (await fetch(`${url}/moto-api/`)).status < 500, {
    ...process.env,
    AWS_ACCESS_KEY_ID: 'testing',
    AWS_SECRET_ACCESS_KEY: 'testing',
    AWS_DEFAULT_REGION: 'us-east-1',
  });
}
