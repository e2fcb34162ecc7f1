// The one spawned CLI test: the real entry point (src/cli.ts, as bin/signet.js and the image run
// it) sets the process's exit code, and `serve` listens, answers /readyz and drains on SIGTERM.
// Everything else about the CLI runs in-process: test/cli.test.ts.
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { freePort } from './harness/tools.js';
import { configFile, localConfig } from './helpers/cli.js';

const ROOT = join(import.meta.dirname, '..');
const CLI = ['--import', 'tsx', join(ROOT, 'src', 'cli.ts')];

describe('the signet process', () => {
  it('exits with the command\'s code: --version 0, an unknown command 2', () => {
    const version = spawnSync(process.execPath, [...CLI, '--version'], { cwd: ROOT, encoding: 'utf8' });
    expect(version.stdout).toBe(`${(JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version}\n`);
    expect(version.status).toBe(0);
    const unknown = spawnSync(process.execPath, [...CLI, 'keyz'], { cwd: ROOT, encoding: 'utf8' });
    expect(unknown.stderr).toMatch(/^signet: usage error: unknown command 'keyz'/);
    expect(unknown.status).toBe(2);
  });

  it('serve answers /readyz and the JWKS, then exits 0 on SIGTERM', async () => {
    const port = await freePort();
    const child = spawn(process.execPath, [...CLI, 'serve'], {
      cwd: ROOT,
      env: { ...process.env, SIGNET_CONFIG: configFile(localConfig()), SIGNET_HOST: '127.0.0.1', SIGNET_PORT: String(port), SIGNET_LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      const deadline = Date.now() + 20_000;
      while (!(await fetch(`http://127.0.0.1:${port}/readyz`).then((r) => r.ok, () => false))) {
        if (child.exitCode !== null || Date.now() > deadline) throw new Error(`signet serve did not get ready:\n${output}`);
        await sleep(100);
      }
      const jwks = (await (await fetch(`http://127.0.0.1:${port}/.well-known/jwks.json`)).json()) as { keys: Array<{ kid: string }> };
      expect(jwks.keys).toHaveLength(1);
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited, output).toBe(0);
  });
});
