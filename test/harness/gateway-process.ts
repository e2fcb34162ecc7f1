// A gateway in a process of its own, started exactly as `signet serve` runs (node, the CLI, a
// config file), for the fault tests: its latency is not the test's event loop, it can run under
// a descriptor limit (prlimit), and it can be sent SIGTERM.
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { openClient, tempDir } from '../helpers/gateway.js';
import { OPENBAO_ROOT_TOKEN, startOpenBao, vaultRequest } from './openbao.js';
import { freePort, type RunningServer } from './tools.js';

export interface GatewayProcess {
  url: string;
  pid: number;
  child: ChildProcess;
  /** Resolves with the exit code (null after a signal). */
  exited: Promise<number | null>;
  auditFile: string;
  /** Everything it wrote to stdout and stderr so far. */
  output(): string;
  kill(signal?: NodeJS.Signals): void;
}

const ROOT = join(import.meta.dirname, '..', '..');

/** Spawns `signet serve` with `raw` as its config; `nofile` sets a soft and hard descriptor limit. */
export async function spawnGateway(raw: Record<string, unknown>, options: { nofile?: number; env?: Record<string, string>; waitFor?: 'healthz' | 'readyz' } = {}): Promise<GatewayProcess> {
  const dir = tempDir('signet-proc-');
  const port = await freePort();
  const auditFile = join(dir, 'audit.jsonl');
  const file = join(dir, 'signet.json');
  writeFileSync(file, JSON.stringify({ state_dir: join(dir, 'state'), audit: { file: auditFile }, ...raw }));
  const node = [process.execPath, '--import', 'tsx', 'src/cli.ts', 'serve'];
  // prlimit execs the command, so the child's pid is the gateway's.
  const [command, ...args] = options.nofile ? ['prlimit', `--nofile=${options.nofile}:${options.nofile}`, '--', ...node] : node;
  const child = spawn(command!, args, {
    cwd: ROOT,
    env: { ...process.env, SIGNET_CONFIG: file, SIGNET_HOST: '127.0.0.1', SIGNET_PORT: String(port), SIGNET_LOG_LEVEL: 'warn', ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  let gone = false;
  void exited.then(() => (gone = true));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  const probe = options.waitFor ?? 'healthz';
  for (;;) {
    if (gone) throw new Error(`the gateway exited during start-up:\n${output}`);
    try {
      if ((await fetch(`${url}/${probe}`)).ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`the gateway did not answer /${probe} in 30 s:\n${output}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return { url, pid: child.pid!, child, exited, auditFile, output: () => output, kill: (signal = 'SIGKILL') => void (gone || child.kill(signal)) };
}

/** What openBaoAndGateway gives a test: set before its tests run. */
export interface OpenBaoAndGateway {
  bao: RunningServer;
  gateway: GatewayProcess;
}

/**
 * An OpenBao of the test file's own (paused, killed and restarted at will) with one ES256 Transit
 * key, and a `signet serve` process with one ring on it; both stopped when the file ends, after a
 * SIGCONT in case the test left OpenBao paused. `backend` and `top` add to the generated config.
 */
export function openBaoAndGateway(name: string, settings: { top?: Record<string, unknown>; backend?: Record<string, unknown>; nofile?: number } = {}): OpenBaoAndGateway {
  const env = {} as OpenBaoAndGateway;
  beforeAll(async () => {
    env.bao = await startOpenBao();
    await vaultRequest(env.bao.url, 'POST', `transit/keys/signet-${name}`, { type: 'ecdsa-p256' });
    env.gateway = await spawnGateway(
      {
        ...settings.top,
        backends: { vault: { type: 'vault-transit', address: env.bao.url, token: OPENBAO_ROOT_TOKEN, ...settings.backend } },
        rings: [{ name, backend: 'vault', key: `signet-${name}`, alg: 'ES256' }],
        clients: [openClient()],
      },
      { waitFor: 'readyz', ...(settings.nofile ? { nofile: settings.nofile } : {}) },
    );
  }, 60_000);
  afterAll(async () => {
    if (env.bao) process.kill(env.bao.process.pid!, 'SIGCONT');
    env.gateway?.kill();
    await env.bao?.stop();
  });
  return env;
}
