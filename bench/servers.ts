// The processes under test: a real OpenBao dev server (via the test harness), Signet gateways
// spawned exactly as `signet serve` runs (one node process, so its pid is the one to measure),
// and the trivial Fastify server that is the ceiling for JWKS serving.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateApiKey, sha256Hex } from '../src/config/load.js';
import { OPENBAO_ROOT_TOKEN, startOpenBao, vaultRequest } from '../test/harness/openbao.js';
import { freePort, startServer, type RunningServer } from '../test/harness/tools.js';
import { BENCH_ALGS, TOKEN_REQUEST } from './algs.js';
import type { Cleanup } from './cleanup.js';

export { OPENBAO_ROOT_TOKEN };

export interface OpenBao {
  url: string;
  pid: number;
  version: string;
}

export interface Gateway {
  name: string;
  url: string;
  pid: number;
  server: RunningServer;
  /** Bearer API key per ring: each client may use only its own ring. */
  apiKeys: Record<string, string>;
}

/** A scratch directory for configs, state and local keys, removed at clean-up. */
export function scratchDir(cleanup: Cleanup): string {
  const dir = mkdtempSync(join(tmpdir(), 'signet-bench-'));
  cleanup.add(`scratch dir ${dir}`, () => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function pidOf(server: RunningServer, name: string): number {
  if (server.process.pid === undefined) throw new Error(`${name} has no pid`);
  return server.process.pid;
}

export async function startBao(cleanup: Cleanup): Promise<OpenBao> {
  const server = await startOpenBao();
  cleanup.add('OpenBao', () => server.stop());
  const health = (await (await fetch(`${server.url}/v1/sys/health`)).json()) as { version?: string };
  return { url: server.url, pid: pidOf(server, 'OpenBao'), version: health.version ?? 'unknown' };
}

/** One Transit key per alg, shared by the direct scenario and the vault-backed gateway. */
export async function createTransitKeys(bao: OpenBao): Promise<void> {
  for (const spec of BENCH_ALGS) {
    await vaultRequest(bao.url, 'POST', `transit/keys/${spec.transitKey}`, { type: spec.transitType });
  }
}

/**
 * OpenBao's own JWT issuance: an identity OIDC key and role per alg, a policy that may read the
 * roles' token endpoints, and a userpass login whose token carries an entity (required to issue).
 * Returns that client token.
 */
export async function setupOidcPeer(bao: OpenBao): Promise<string> {
  const policy = BENCH_ALGS.map((spec) => `path "identity/oidc/token/${spec.oidcRole}" {\n  capabilities = ["read"]\n}`).join('\n');
  for (const spec of BENCH_ALGS) {
    await vaultRequest(bao.url, 'POST', `identity/oidc/key/${spec.oidcKey}`, { algorithm: spec.alg, allowed_client_ids: '*' });
    await vaultRequest(bao.url, 'POST', `identity/oidc/role/${spec.oidcRole}`, { key: spec.oidcKey });
  }
  await vaultRequest(bao.url, 'PUT', 'sys/policies/acl/signet-bench-oidc', { policy });
  await vaultRequest(bao.url, 'POST', 'sys/auth/userpass', { type: 'userpass' });
  const password = generateApiKey();
  await vaultRequest(bao.url, 'POST', 'auth/userpass/users/bench', { password, token_policies: 'signet-bench-oidc' });
  const login = (await vaultRequest(bao.url, 'POST', 'auth/userpass/login/bench', { password }, '')) as { auth?: { client_token?: string; entity_id?: string } };
  if (!login.auth?.client_token || !login.auth.entity_id) throw new Error(`userpass login returned no token with an entity: ${JSON.stringify(login)}`);
  return login.auth.client_token;
}

export type GatewayBackend = { type: 'vault-transit'; address: string; token: string } | { type: 'local' };

/**
 * Writes a config with one ring per bench alg and one client per ring, and starts
 * the compiled gateway (`node dist/cli.js serve`, as in production; `npm run bench` builds it first)
 * on a free loopback port, logging at the production default (info: one audit line per token).
 * Ready when /readyz answers 200.
 */
export async function startGateway(
  name: string,
  backend: GatewayBackend,
  dir: string,
  cleanup: Cleanup,
  nodeArgs: string[] = [],
  /** The checkout whose dist/ runs (bench:ab runs an older build beside this one). */
  root = '.',
): Promise<Gateway> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const home = join(dir, name);
  mkdirSync(home, { recursive: true });
  const apiKeys: Record<string, string> = {};
  const backendConfig = backend.type === 'local' ? { type: 'local', data_dir: join(home, 'keys') } : backend;
  const config = {
    server: { host: '127.0.0.1', port, log_level: 'info' },
    state_dir: join(home, 'state'),
    backends: { bench: backendConfig },
    rings: BENCH_ALGS.map((spec) => ({
      name: spec.ring,
      backend: 'bench',
      key: spec.transitKey,
      alg: spec.alg,
      create_if_missing: backend.type === 'local',
    })),
    clients: BENCH_ALGS.map((spec) => {
      apiKeys[spec.ring] = generateApiKey();
      return {
        name: `bench-${spec.ring}`,
        api_key_sha256: sha256Hex(apiKeys[spec.ring]!),
        rings: [spec.ring],
        audiences: [TOKEN_REQUEST.audience],
        subjects: [TOKEN_REQUEST.subject],
        claims: Object.keys(TOKEN_REQUEST.claims),
      };
    }),
  };
  const configFile = join(home, 'signet.json');
  writeFileSync(configFile, JSON.stringify(config, null, 2), { mode: 0o600 });
  const env: NodeJS.ProcessEnv = { ...process.env, SIGNET_CONFIG: configFile };
  delete env.SIGNET_LOG_LEVEL;
  delete env.NODE_ENV; // the local backend refuses NODE_ENV=production
  const server = await startServer(
    name,
    process.execPath,
    [...nodeArgs, join(root, 'dist', 'cli.js'), 'serve'],
    url,
    async () => (await fetch(`${url}/readyz`)).status === 200,
    env,
  );
  cleanup.add(name, () => server.stop());
  return { name, url, pid: pidOf(server, name), server, apiKeys };
}

/** bench/trivial-server.ts in its own process, answering GET /.well-known/jwks.json with `body`. */
export async function startTrivialServer(body: Buffer, dir: string, cleanup: Cleanup): Promise<{ url: string; pid: number }> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const bodyFile = join(dir, 'trivial-body.json');
  writeFileSync(bodyFile, body);
  const server = await startServer(
    'trivial',
    process.execPath,
    ['--import', 'tsx', 'bench/trivial-server.ts'],
    url,
    async () => (await fetch(`${url}/.well-known/jwks.json`)).status === 200,
    { ...process.env, BENCH_TRIVIAL_PORT: String(port), BENCH_TRIVIAL_BODY_FILE: bodyFile },
  );
  cleanup.add('trivial server', () => server.stop());
  return { url, pid: pidOf(server, 'trivial server') };
}

/** Peak resident set (VmHWM) of a live process, in bytes; Linux only. */
export function peakRssBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const match = /^VmHWM:\s+(\d+)\s+kB$/m.exec(status);
  if (!match) throw new Error(`no VmHWM in /proc/${pid}/status`);
  return Number(match[1]) * 1024;
}
