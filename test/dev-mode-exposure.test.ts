// Dev mode is a wildcard client and an admin API: off loopback it refuses to start unless told,
// says loudly what is exposed when told, and never echoes a key the operator supplied.
import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { freePort } from './harness/tools.js';
import { tempDir } from './helpers/gateway.js';

interface Run {
  code: number | null;
  stderr: string;
}

/** Runs `signet serve` in dev mode until it prints its banner (then stops it) or exits. */
async function devServe(env: Record<string, string>): Promise<Run> {
  const port = await freePort();
  // A real process: what it listens on and prints is the point. One process, no npx wrapper.
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'serve'], {
    env: { ...process.env, SIGNET_CONFIG: '', SIGNET_PORT: String(port), SIGNET_DATA_DIR: tempDir(), SIGNET_STATE_DIR: tempDir(), ...env },
  });
  const stop = (signal: NodeJS.Signals) => child.kill(signal);
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
    if (/dev admin key/.test(stderr)) setTimeout(() => stop('SIGTERM'), 300); // the rest of the banner follows at once
  });
  const timer = setTimeout(() => stop('SIGKILL'), 25_000);
  const code = await new Promise<number | null>((resolve) => child.on('exit', (exitCode) => resolve(exitCode)));
  clearTimeout(timer);
  return { code, stderr };
}

describe('dev mode exposure', () => {
  it('refuses 0.0.0.0 without SIGNET_DEV_ALLOW_REMOTE, naming SIGNET_HOST (exit 3, a configuration error)', async () => {
    const run = await devServe({ SIGNET_HOST: '0.0.0.0' });
    expect(run.code).toBe(3);
    expect(run.stderr).toMatch(/^signet: configuration error: SIGNET_HOST: dev mode on 0\.0\.0\.0 would expose its wildcard dev client/);
  });

  it('with SIGNET_DEV_ALLOW_REMOTE=true, warns what is exposed and never echoes a supplied key', async () => {
    const run = await devServe({ SIGNET_HOST: '0.0.0.0', SIGNET_DEV_ALLOW_REMOTE: 'true', SIGNET_DEV_API_KEY: 'sgt_operator-chosen-dev-key', SIGNET_DEV_ADMIN_API_KEY: 'sgt_operator-chosen-admin-key' });
    expect(run.stderr).toMatch(/listening on 0\.0\.0\.0:\d+/);
    expect(run.stderr).toMatch(/DEV MODE IS REACHABLE FROM THE NETWORK on 0\.0\.0\.0:\d+ .*any audience, subject and claim.*admin API/);
    expect(run.stderr).toMatch(/dev API key \(from SIGNET_DEV_API_KEY; not shown\)/);
    expect(run.stderr).toMatch(/dev admin key for \/v1\/admin \(from SIGNET_DEV_ADMIN_API_KEY; not shown\)/);
    expect(run.stderr).not.toContain('sgt_operator-chosen-dev-key');
    expect(run.stderr).not.toContain('sgt_operator-chosen-admin-key');
  });
});
