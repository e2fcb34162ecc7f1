// npm run bench [-- --duration 5 --warmup 1]   (BENCH_LABEL=name: results go to <date>-<name>.*)
// Starts OpenBao, two gateways (vault-transit and local) and a trivial Fastify server on loopback,
// drives every scenario at c1 and c64 with autocannon, and writes bench/results/<date>.{json,md,svg}.
// Any error or unexpected status fails the run (exit 1) after the report is written.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { CACHE_DIR } from '../test/harness/tools.js';
import { barChart } from './chart.js';
import { Cleanup, runMain } from './cleanup.js';
import { CpuProbe } from './cpu.js';
import { measure } from './load.js';
import { machineInfo } from './machine.js';
import { computeChecks, isFailed, markdown, type PeakRss, type Row, type Settings } from './report.js';
import { gatewayJwks, prepareScenarios } from './scenarios.js';
import { createTransitKeys, OPENBAO_ROOT_TOKEN, peakRssBytes, scratchDir, setupOidcPeer, startBao, startGateway, startTrivialServer } from './servers.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const RESULTS = join(ROOT, 'bench', 'results');

function options(): Settings & { help: boolean } {
  const { values } = parseArgs({
    options: {
      duration: { type: 'string', default: process.env.BENCH_DURATION ?? '5' },
      warmup: { type: 'string', default: process.env.BENCH_WARMUP ?? '1' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  const secondsPerRun = Number(values.duration);
  const warmupSeconds = Number(values.warmup);
  if (!Number.isInteger(secondsPerRun) || secondsPerRun < 1 || secondsPerRun > 60) throw new Error('--duration (BENCH_DURATION) must be whole seconds from 1 to 60');
  if (!Number.isInteger(warmupSeconds) || warmupSeconds < 0 || warmupSeconds > 30) throw new Error('--warmup (BENCH_WARMUP) must be whole seconds from 0 to 30');
  return { secondsPerRun, warmupSeconds, concurrencies: [1, 64], signingInputBytes: {}, help: values.help };
}

const progress = (line: string): void => {
  process.stderr.write(`${line}\n`);
};

/** Lines a gateway logged at warn or above (its log level), for the "anything odd" note. */
function logLines(name: string): { file: string; lines: string[] } {
  const file = join(CACHE_DIR, 'logs', `${name}-${process.pid}.log`);
  // The gateways log at info (an audit line per token); only warnings and errors are news here.
  const lines = existsSync(file)
    ? readFileSync(file, 'utf8')
        .split('\n')
        .filter((line) => /"level":(4|5|6)\d/.test(line))
    : [];
  return { file, lines };
}

async function main(): Promise<number> {
  const { help, ...settings } = options();
  if (help) {
    process.stdout.write('npm run bench [-- --duration SECONDS (5) --warmup SECONDS (1)]   (or BENCH_DURATION / BENCH_WARMUP)\n');
    return 0;
  }
  process.chdir(ROOT); // the gateways run `node dist/cli.js serve` from here
  const started = Date.now();
  const cleanup = new Cleanup();
  const runs = 12 * settings.concurrencies.length;
  cleanup.guard((180 + runs * (settings.secondsPerRun + settings.warmupSeconds + 5)) * 1000);

  try {
    progress('bench: starting OpenBao (dev server, loopback)…');
    const bao = await startBao(cleanup);
    await createTransitKeys(bao);
    const peerToken = await setupOidcPeer(bao);
    progress(`bench: OpenBao ${bao.version} at ${bao.url}; starting gateways…`);
    const dir = scratchDir(cleanup);
    const [vaultGateway, localGateway] = await Promise.all([
      startGateway('signet-bench-vault', { type: 'vault-transit', address: bao.url, token: OPENBAO_ROOT_TOKEN }, dir, cleanup),
      startGateway('signet-bench-local', { type: 'local' }, dir, cleanup),
    ]);
    const trivial = await startTrivialServer((await gatewayJwks(vaultGateway)).body, dir, cleanup);
    progress(`bench: gateway/vault ${vaultGateway.url} (pid ${vaultGateway.pid}), gateway/local ${localGateway.url} (pid ${localGateway.pid}), trivial ${trivial.url}`);

    const { scenarios, signingInputBytes } = await prepareScenarios({ bao, rootToken: OPENBAO_ROOT_TOKEN, peerToken, vaultGateway, localGateway, trivialUrl: trivial.url });
    settings.signingInputBytes = signingInputBytes;
    progress('bench: preflight ok (every token verifies against the gateway JWKS; direct Transit signs the same input)');

    const probe = new CpuProbe({ 'gateway/vault': vaultGateway.pid, 'gateway/local': localGateway.pid, OpenBao: bao.pid, trivial: trivial.pid });
    const rows: Row[] = [];
    const total = scenarios.length * settings.concurrencies.length;
    for (const scenario of scenarios) {
      for (const connections of settings.concurrencies) {
        const name = `${scenario.label}${scenario.alg ? ` ${scenario.alg}` : ''} c${connections}`;
        progress(`[${String(rows.length + 1).padStart(2)}/${total}] ${name} (${settings.warmupSeconds} s warm-up + ${settings.secondsPerRun} s)…`);
        const result = await measure(scenario.target, connections, settings.secondsPerRun, settings.warmupSeconds, probe);
        if (cleanup.stopping) throw new Error('stopped before the run finished');
        const row: Row = { id: scenario.id, label: scenario.label, group: scenario.group, ...(scenario.alg ? { alg: scenario.alg } : {}), detail: scenario.detail, connections, result };
        rows.push(row);
        progress(`        ${result.rps.toFixed(0)} req/s, p50 ${result.p50Ms.toFixed(2)} ms, p99 ${result.p99Ms.toFixed(2)} ms, errors ${result.errors}, unexpected ${JSON.stringify(result.unexpected)}`);
        if (isFailed(row)) {
          progress(`!!!!!!!! FAILED: ${name}: ${result.errors} errors (${result.timeouts} timeouts), unexpected statuses ${JSON.stringify(result.unexpected)}, warm-up failures ${result.warmupBad}${result.firstError ? `, first error: ${result.firstError}` : ''}`);
        }
      }
    }

    const rss: PeakRss = {
      'gateway/vault': peakRssBytes(vaultGateway.pid),
      'gateway/local': peakRssBytes(localGateway.pid),
      'trivial server': peakRssBytes(trivial.pid),
      OpenBao: peakRssBytes(bao.pid),
    };
    const machine = machineInfo(bao.version, new Date(started));
    const checks = computeChecks(rows, rss, settings.concurrencies);
    const failures = rows.filter(isFailed).map((row) => `${row.label} ${row.alg ?? ''} c${row.connections}`.replace(/ +/g, ' '));
    const elapsedSeconds = Math.round((Date.now() - started) / 1000);
    const report = markdown(machine, settings, rows, checks, rss);

    mkdirSync(RESULTS, { recursive: true });
    // BENCH_LABEL tells apart runs of one day (e.g. before and after a change): <date>-<label>.
    const label = process.env.BENCH_LABEL?.replace(/[^a-z0-9-]/gi, '');
    const base = join(RESULTS, label ? `${machine.date}-${label}` : machine.date);
    const json = {
      machine,
      settings,
      scenarios: rows.map(({ result, ...row }) => ({ ...row, ...result })),
      checks,
      peakRssBytes: rss,
      failures,
      elapsedSeconds,
    };
    writeFileSync(`${base}.json`, `${JSON.stringify(json, null, 2)}\n`);
    writeFileSync(`${base}.md`, report);
    writeFileSync(`${base}.svg`, barChart(machine, settings, rows));

    process.stdout.write(`\n${report}\n`);
    for (const gateway of [vaultGateway, localGateway]) {
      const { file, lines } = logLines(gateway.name);
      if (lines.length) progress(`bench: note: ${gateway.name} logged ${lines.length} warn+ line(s), see ${file}; first: ${lines[0]!.slice(0, 300)}`);
    }
    progress(`bench: wrote ${base}.json, .md and .svg in ${elapsedSeconds} s`);
    if (failures.length) {
      progress(`\nbench: FAILED: errors or unexpected statuses in ${failures.length} run(s): ${failures.join('; ')}`);
      return 1;
    }
    return 0;
  } finally {
    await cleanup.run();
  }
}

runMain('bench', main);
