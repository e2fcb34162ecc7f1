// npm run bench:profile [-- --duration 10 --connections 64 --save PATH]
// Starts OpenBao and a vault-backed gateway under `node --cpu-prof`, drives ES256 POST /v1/tokens,
// stops the gateway with SIGINT (its graceful shutdown, as an operator would) and summarises the
// profile V8 writes at exit: the top functions by self time, to stdout and
// bench/results/<date>-profile.md.
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { BENCH_ALGS } from './algs.js';
import { Cleanup, runMain } from './cleanup.js';
import { selfTimes, selfTimeTable, type CpuProfile } from './cpuprofile.js';
import { measure } from './load.js';
import { machineInfo } from './machine.js';
import { machineLine } from './report.js';
import { tokenTarget } from './scenarios.js';
import { createTransitKeys, OPENBAO_ROOT_TOKEN, scratchDir, startBao, startGateway, type Gateway } from './servers.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const TOP = 15;

const progress = (line: string): void => {
  process.stderr.write(`${line}\n`);
};

/** SIGINT, then wait (bounded) for the process to exit; returns how it exited. */
function interrupt(gateway: Gateway, timeoutMs: number): Promise<string> {
  const child = gateway.server.process;
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(`already exited (code ${child.exitCode}, signal ${child.signalCode})`);
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      resolve(`did not exit within ${timeoutMs / 1000} s of SIGINT; killed`);
    }, timeoutMs);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      resolve(signal ? `exited on signal ${signal}` : `exited with code ${code}`);
    });
    child.kill('SIGINT');
  });
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      duration: { type: 'string', default: '10' },
      connections: { type: 'string', default: '64' },
      save: { type: 'string' },
    },
  });
  const seconds = Number(values.duration);
  const connections = Number(values.connections);
  if (!Number.isInteger(seconds) || seconds < 1 || seconds > 120) throw new Error('--duration must be whole seconds from 1 to 120');
  if (!Number.isInteger(connections) || connections < 1 || connections > 1024) throw new Error('--connections must be from 1 to 1024');
  process.chdir(ROOT);
  const started = new Date();
  const cleanup = new Cleanup();
  cleanup.guard((240 + seconds) * 1000);
  try {
    progress('profile: starting OpenBao…');
    const bao = await startBao(cleanup);
    await createTransitKeys(bao);
    const dir = scratchDir(cleanup);
    const profileDir = join(dir, 'cpu-prof');
    const gateway = await startGateway('signet-profile-vault', { type: 'vault-transit', address: bao.url, token: OPENBAO_ROOT_TOKEN }, dir, cleanup, [
      '--cpu-prof',
      '--cpu-prof-dir',
      profileDir,
    ]);
    const spec = BENCH_ALGS.find((alg) => alg.alg === 'ES256')!;
    const target = tokenTarget(gateway, spec);
    const check = await fetch(target.url, { method: target.method, headers: target.headers, body: target.body! });
    if (check.status !== 200) throw new Error(`preflight: POST /v1/tokens answered ${check.status}: ${await check.text()}`);

    progress(`profile: gateway pid ${gateway.pid} under --cpu-prof; ES256 POST /v1/tokens at c${connections} for ${seconds} s…`);
    const result = await measure(target, connections, seconds, 0);
    if (cleanup.stopping) throw new Error('stopped before the run finished');
    const load = `${result.rps.toFixed(0)} req/s, p50 ${result.p50Ms.toFixed(2)} ms, p99 ${result.p99Ms.toFixed(2)} ms, errors ${result.errors}, unexpected ${JSON.stringify(result.unexpected)}`;
    progress(`profile: ${load}`);

    const exit = await interrupt(gateway, 15_000);
    progress(`profile: gateway ${exit} after SIGINT`);
    const files = (existsSync(profileDir) ? readdirSync(profileDir, { withFileTypes: true }) : []).filter((entry) => entry.isFile() && entry.name.endsWith('.cpuprofile')).map((entry) => join(profileDir, entry.name));
    if (files.length === 0) {
      progress(
        `profile: NO .cpuprofile was written to ${profileDir}. The gateway ${exit}. node writes --cpu-prof output while the ` +
          'process exits; if src/cli.ts\'s process.exit() after close prevents that, the SIGINT handler is the cause.',
      );
      return 1;
    }
    // One profile per thread (worker threads write their own). The main thread's file
    // is CPU.<date>.<time>.<pid>.0.<seq>.cpuprofile; failing that, take the busiest profile.
    const busyMs = (profile: CpuProfile): number => {
      const summary = selfTimes(profile, ROOT);
      return summary.totalMs - summary.idleMs;
    };
    const profiles = files
      .map((file) => ({ file, bytes: statSync(file).size, profile: JSON.parse(readFileSync(file, 'utf8')) as CpuProfile }))
      .map((entry) => ({ ...entry, mainThread: /\.\d+\.0\.\d+\.cpuprofile$/.test(entry.file), busy: busyMs(entry.profile) }))
      .sort((a, b) => Number(b.mainThread) - Number(a.mainThread) || b.busy - a.busy);
    const main = profiles[0]!;
    const summary = selfTimes(main.profile, ROOT);
    const machine = machineInfo(bao.version, started);
    const table = selfTimeTable(summary.rows, TOP);
    const caption =
      `_Signet CPU profile, ${machine.date}: ${machineLine(machine)}. Gateway (vault-transit backend) under \`node --cpu-prof\`, ` +
      `ES256 POST /v1/tokens at c${connections} for ${seconds} s: ${load}. Profile ${summary.samples} samples over ${(summary.totalMs / 1000).toFixed(1)} s ` +
      `(start-up and shutdown included), idle ${((100 * summary.idleMs) / summary.totalMs).toFixed(1)}%. Top ${TOP} functions by self time; ` +
      'dist/ paths are the compiled gateway (`npm run build`), line for line close to src/._';
    const others = profiles.slice(1).map((p) => `${p.file.split('/').at(-1)} (${(p.busy / 1000).toFixed(1)} s busy)`);
    const text = `${caption}\n\n${table}\n${others.length ? `\nSummarised: the main thread, ${main.file.split('/').at(-1)}. Other thread profiles, not summarised: ${others.join(', ')}.\n` : ''}`;
    const resultsDir = join(ROOT, 'bench', 'results');
    mkdirSync(resultsDir, { recursive: true });
    const out = join(resultsDir, `${machine.date}-profile.md`);
    writeFileSync(out, text);
    if (values.save) copyFileSync(main.file, values.save);
    process.stdout.write(`\n${text}\n`);
    progress(`profile: wrote ${out}${values.save ? ` and ${values.save}` : ''} (raw profile ${(main.bytes / 1e6).toFixed(1)} MB)`);
    return result.bad > 0 ? 1 : 0;
  } finally {
    await cleanup.run();
  }
}

runMain('profile', main);
