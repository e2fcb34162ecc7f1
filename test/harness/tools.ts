// Finds or installs the real servers the suite runs against, into a cache outside the clone.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, openSync } from 'node:fs';
import { createServer } from 'node:net';
import { homedir } from 'node:os';
import { join } from 'node:path';

export const CACHE_DIR = process.env.SIGNET_TEST_CACHE ?? join(homedir(), '.cache', 'signet');
const VENV = join(CACHE_DIR, 'venv');

/** Path to a console script from a PyPI package, installing the package into the cache venv if needed. */
export function pythonTool(binary: string, pipSpec: string): string {
  const path = join(VENV, 'bin', binary);
  if (existsSync(path)) return path;
  mkdirSync(CACHE_DIR, { recursive: true });
  try {
    if (!existsSync(join(VENV, 'bin', 'pip'))) execFileSync('python3', ['-m', 'venv', VENV], { stdio: 'inherit' });
    execFileSync(join(VENV, 'bin', 'pip'), ['install', '--quiet', pipSpec], { stdio: 'inherit' });
  } catch (error) {
    throw new Error(
      `could not install ${pipSpec} for the test suite (${(error as Error).message}).\n` +
        `Install it by hand: python3 -m venv ${VENV} && ${VENV}/bin/pip install '${pipSpec}'`,
    );
  }
  if (!existsSync(path)) throw new Error(`${pipSpec} installed but ${path} is missing`);
  return path;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

export interface RunningServer {
  url: string;
  process: ChildProcess;
  stop(): Promise<void>;
}

/** Starts a server process and waits until `ready()` resolves true (polling), or fails with its log. */
export async function startServer(
  name: string,
  command: string,
  args: string[],
  url: string,
  ready: () => Promise<boolean>,
  env: NodeJS.ProcessEnv = process.env,
): Promise<RunningServer> {
  mkdirSync(join(CACHE_DIR, 'logs'), { recursive: true });
  const logFile = join(CACHE_DIR, 'logs', `${name}-${process.pid}.log`);
  const log = openSync(logFile, 'w');
  const child = spawn(command, args, { stdio: ['ignore', log, log], env, detached: false });
  let exited = false;
  child.on('exit', () => (exited = true));
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (exited) throw new Error(`${name} exited during start-up; see ${logFile}`);
    try {
      if (await ready()) break;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  if (Date.now() >= deadline) {
    child.kill('SIGKILL');
    throw new Error(`${name} did not become ready in 60 s; see ${logFile}`);
  }
  return {
    url,
    process: child,
    stop: () =>
      new Promise<void>((resolve) => {
        if (exited) return resolve();
        const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
        child.once('exit', () => {
          clearTimeout(timer);
          resolve();
        });
        child.kill('SIGTERM');
      }),
  };
}
