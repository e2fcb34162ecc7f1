// The README's quick start, as a user runs it: `npm start` with no config, then curl.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort } from './harness/tools.js';
import { tempDir } from './helpers/gateway.js';
import { remoteVerifier } from './helpers/verify.js';

interface Started {
  child: ChildProcess;
  url: string;
  stderr: () => string;
  stdout: () => string;
}

const running: ChildProcess[] = [];

async function npmStart(env: Record<string, string>): Promise<Started> {
  const port = await freePort();
  const child = spawn('npm', ['start', '--silent'], { env: { ...process.env, SIGNET_PORT: String(port), SIGNET_CONFIG: '', ...env }, detached: true });
  running.push(child);
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  let stdout = '';
  child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    try {
      if ((await fetch(`${url}/readyz`)).ok && /dev API key/.test(stderr)) return { child, url, stderr: () => stderr, stdout: () => stdout };
    } catch {
      // starting
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`npm start did not become ready:\n${stderr}`);
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  try {
    process.kill(-child.pid!, 'SIGTERM'); // the whole group: npm, sh and node
  } catch {
    return; // already gone
  }
  await exited;
}

afterEach(async () => {
  await Promise.all(running.splice(0).map(stop));
});

describe('dev mode (npm start with no config)', () => {
  it('prints a generated API key once, issues a verifiable token, and keeps its keys across restarts', async () => {
    const dataDir = tempDir();
    const stateDir = tempDir(); // never the checkout's .signet/state
    const first = await npmStart({ SIGNET_DATA_DIR: dataDir, SIGNET_STATE_DIR: stateDir });
    const apiKey = /\n\s+(sgt_[A-Za-z0-9_-]{43})\n/.exec(first.stderr())?.[1];
    expect(apiKey).toBeDefined();
    expect(first.stderr().split(apiKey!).length - 1).toBe(1); // printed exactly once
    // The loud warning, in the JSON log (written asynchronously: allow the 250 ms flush).
    for (let i = 0; i < 50 && !/EXPORTABLE software keys/.test(first.stdout()); i++) await new Promise((resolve) => setTimeout(resolve, 100));
    expect(first.stdout()).toMatch(/EXPORTABLE software keys/);
    expect(first.stdout()).not.toContain(apiKey!);

    // The README's curl, as fetch.
    const response = await fetch(`${first.url}/v1/tokens`, {
      method: 'POST',
      headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ audience: 'https://api.example.com', subject: 'svc-orders', ttl_seconds: 300 }),
    });
    expect(response.status, await response.clone().text()).toBe(200);
    const { token } = (await response.json()) as { token: string };
    const verified = await remoteVerifier(`${first.url}/.well-known/jwks.json`, 'ES256').jwtVerify(token, { issuer: first.url, audience: 'https://api.example.com' });
    expect(verified.payload.sub).toBe('svc-orders');

    const discovery = (await (await fetch(`${first.url}/.well-known/openid-configuration`)).json()) as Record<string, unknown>;
    expect(discovery).toMatchObject({ issuer: first.url, jwks_uri: `${first.url}/.well-known/jwks.json`, id_token_signing_alg_values_supported: ['ES256'] });

    const jwksBefore = await (await fetch(`${first.url}/.well-known/jwks.json`)).text();
    expect(statSync(join(dataDir, 'signet-default.json')).mode & 0o777).toBe(0o600);
    expect(readFileSync(join(dataDir, 'signet-default.json'), 'utf8')).toContain('PRIVATE KEY'); // software keys, hence the warning
    await stop(first.child);

    const second = await npmStart({ SIGNET_DATA_DIR: dataDir, SIGNET_STATE_DIR: stateDir, SIGNET_DEV_API_KEY: 'sgt_my-fixed-dev-key' });
    expect(await (await fetch(`${second.url}/.well-known/jwks.json`)).text()).toBe(jwksBefore);
    expect(second.stderr()).toMatch(/from SIGNET_DEV_API_KEY/);
    const again = await fetch(`${second.url}/v1/tokens`, {
      method: 'POST',
      headers: { authorization: 'Bearer sgt_my-fixed-dev-key', 'content-type': 'application/json' },
      body: JSON.stringify({ audience: 'x' }),
    });
    expect(again.status).toBe(200);
  });

  it('refuses to start under NODE_ENV=production', async () => {
    const child = spawn('npm', ['start', '--silent'], { env: { ...process.env, NODE_ENV: 'production', SIGNET_CONFIG: '', SIGNET_DATA_DIR: tempDir() } });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const code = await new Promise((resolve) => child.on('exit', resolve));
    expect(code).toBe(3); // a configuration error
    expect(stderr).toMatch(/allow_in_production/);
  });
});
