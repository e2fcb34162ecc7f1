// Reload without restart. In process: the config file changes while traffic runs (a client added,
// one changed, one removed); the clients that did not change never see a failed request, and an
// invalid file is refused with the running config kept. As a real `signet serve`: SIGHUP reloads.
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig, sha256Hex } from '../src/config/load.js';
import { ConfigReloader } from '../src/config/reload.js';
import { freePort } from './harness/tools.js';
import { requestToken, startGateway, tempDir, type RunningGateway } from './helpers/gateway.js';
import { eventually, sleep } from './helpers/replicas.js';

const KEYS = { steady: 'sgt_steady-reload-key-0123456789abcdefghij', changing: 'sgt_changing-reload-key-0123456789abcdefgh', leaving: 'sgt_leaving-reload-key-0123456789abcdefghi', newcomer: 'sgt_newcomer-reload-key-0123456789abcdefg' };
const ROOT = join(import.meta.dirname, '..');

function client(name: keyof typeof KEYS, audiences: string[]): Record<string, unknown> {
  return { name, api_key_sha256: sha256Hex(KEYS[name]), rings: ['main'], audiences };
}

function writeConfig(file: string, dataDir: string, clients: unknown[], extra: Record<string, unknown> = {}): void {
  writeFileSync(file, JSON.stringify({ state_dir: join(dataDir, 'state'), backends: { dev: { type: 'local', data_dir: dataDir } }, rings: [{ name: 'main', backend: 'dev', alg: 'ES256', create_if_missing: true }], clients, ...extra }));
}

describe('config reload', () => {
  let gateway: RunningGateway | undefined;
  let reloader: ConfigReloader | undefined;
  afterAll(async () => {
    reloader?.close();
    await gateway?.close();
  });

  it('applies a changed file while traffic runs: unchanged clients never fail; an invalid file keeps the old config', async () => {
    const dir = tempDir();
    const file = join(dir, 'signet.json');
    writeConfig(file, dir, [client('steady', ['urn:svc:*']), client('changing', ['urn:a']), client('leaving', ['*'])]);
    const env = { SIGNET_CONFIG: file };
    gateway = await startGateway(loadConfig(env));
    const logLines: Array<Record<string, unknown>> = [];
    reloader = new ConfigReloader(gateway.app, file, env, pino({ level: 'info' }, { write: (line: string) => logLines.push(JSON.parse(line)) }));
    reloader.watch();
    const { clients } = gateway.app.signet;
    expect(clients.generation).toBe(1);

    // Traffic from the client that never changes, through every reload.
    let running = true;
    const outcomes: number[] = [];
    const traffic = (async () => {
      while (running) outcomes.push((await requestToken(gateway!.url, { audience: 'urn:svc:orders' }, KEYS.steady)).status);
    })();
    await sleep(200);
    expect((await requestToken(gateway.url, { audience: 'x' }, KEYS.leaving)).status).toBe(200);
    expect((await requestToken(gateway.url, { audience: 'x' }, KEYS.newcomer)).status).toBe(401);

    writeConfig(file, dir, [client('steady', ['urn:svc:*']), client('changing', ['urn:b']), client('newcomer', ['urn:new'])]);
    await eventually(async () => clients.generation === 2, 5000, 'the file change is applied');
    await sleep(100);
    expect((await requestToken(gateway.url, { audience: 'urn:new' }, KEYS.newcomer)).status).toBe(200);
    expect((await requestToken(gateway.url, { audience: 'urn:b' }, KEYS.changing)).status).toBe(200);
    expect((await requestToken(gateway.url, { audience: 'urn:a' }, KEYS.changing)).body.error.code).toBe('ERR_AUDIENCE_NOT_ALLOWED');
    expect((await requestToken(gateway.url, { audience: 'x' }, KEYS.leaving)).status).toBe(401);

    writeConfig(file, dir, [client('steady', ['urn:svc:*']), { ...client('newcomer', ['urn:new']), api_key_sha256: 'not-a-hash' }]);
    await eventually(async () => logLines.some((line) => line.msg === 'config reload refused; the running config stays'), 5000, 'the invalid file is refused');
    const refused = logLines.find((line) => line.msg === 'config reload refused; the running config stays')!;
    expect(refused.error).toMatch(/^clients\[1\]\.api_key_sha256: /);
    expect(clients.generation).toBe(2);
    expect((await requestToken(gateway.url, { audience: 'urn:new' }, KEYS.newcomer)).status).toBe(200); // the old (generation 2) config still runs
    await sleep(200);
    running = false;
    await traffic;

    expect(outcomes.length).toBeGreaterThan(20);
    expect(outcomes.filter((status) => status !== 200)).toEqual([]);
    const metrics = await (await fetch(`${gateway.url}/metrics`)).text();
    expect(metrics).toMatch(/^signet_config_generation 2$/m);
    expect(metrics).toMatch(/^signet_config_reloads_total\{result="refused"\} 1$/m);
  });

  it('a running `signet serve` reloads on SIGHUP (file watch off)', async () => {
    const dir = tempDir();
    const file = join(dir, 'signet.json');
    const port = await freePort();
    writeConfig(file, dir, [client('steady', ['*'])], { reload: { watch: false } });
    // The sources, never a dist/ that an earlier build left behind.
    const server = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'src', 'cli.ts'), 'serve'], { cwd: ROOT, env: { ...process.env, SIGNET_CONFIG: file, SIGNET_PORT: String(port), SIGNET_LOG_LEVEL: 'warn' }, stdio: 'ignore' });
    const url = `http://127.0.0.1:${port}`;
    const generation = async (): Promise<string | undefined> => /^signet_config_generation (\d+)$/m.exec(await (await fetch(`${url}/metrics`)).text())?.[1];
    try {
      await eventually(async () => (await fetch(`${url}/healthz`).catch(() => undefined))?.ok === true, 20_000, 'signet serve is up');
      expect(await generation()).toBe('1');
      writeConfig(file, dir, [client('steady', ['*']), client('newcomer', ['*'])], { reload: { watch: false } });
      await sleep(500);
      expect((await requestToken(url, { audience: 'x' }, KEYS.newcomer)).status).toBe(401); // not watched: nothing yet
      server.kill('SIGHUP');
      await eventually(async () => (await generation()) === '2', 5000, 'SIGHUP reloads');
      expect((await requestToken(url, { audience: 'x' }, KEYS.newcomer)).status).toBe(200);
      expect((await requestToken(url, { audience: 'x' }, KEYS.steady)).status).toBe(200);
    } finally {
      server.kill('SIGTERM');
    }
  });
});
