// npm run bench:ab -- --base REV [--head REV] [--out NAME] [--rounds 4 --duration 5 --warmup 1]
// The cost of a change to the token path, measured side by side: the compiled gateway at REV and
// at this checkout (or at --head REV, to attribute a cost to one commit of the past) run against one OpenBao, and their ES256 token runs alternate (base, head,
// head, base, …) at c64 and c1, so drift in a shared machine's load falls on both alike. Reports
// the median gateway CPU µs per token of each, their ratio, and req/s; writes
// bench/results/<date>-ab.md (or <date>-ab-NAME.md).
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { CACHE_DIR } from '../test/harness/tools.js';
import { BENCH_ALGS } from './algs.js';
import { Cleanup } from './cleanup.js';
import { CpuProbe } from './cpu.js';
import { measure } from './load.js';
import { machineInfo } from './machine.js';
import { tokenTarget } from './scenarios.js';
import { createTransitKeys, OPENBAO_ROOT_TOKEN, scratchDir, startBao, startGateway, type Gateway } from './servers.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** A built checkout of `rev`, kept in the cache so reruns skip the install and build. */
function baseCheckout(rev: string): { dir: string; sha: string } {
  const sha = execFileSync('git', ['rev-parse', rev], { cwd: ROOT, encoding: 'utf8' }).trim();
  const dir = join(CACHE_DIR, 'bench-ab', sha);
  if (!existsSync(join(dir, 'dist', 'cli.js'))) {
    mkdirSync(join(CACHE_DIR, 'bench-ab'), { recursive: true });
    if (!existsSync(dir)) execFileSync('git', ['worktree', 'add', '--detach', dir, sha], { cwd: ROOT, stdio: 'inherit' });
    execFileSync('npm', ['ci', '--no-audit', '--no-fund'], { cwd: dir, stdio: 'inherit' });
    execFileSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { cwd: dir, stdio: 'inherit' });
  }
  return { dir, sha };
}

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
};

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      base: { type: 'string' },
      'base-dir': { type: 'string' },
      head: { type: 'string' },
      out: { type: 'string' },
      rounds: { type: 'string', default: '4' },
      duration: { type: 'string', default: '5' },
      warmup: { type: 'string', default: '1' },
      connections: { type: 'string', default: '64,1' },
    },
  });
  if (!values.base && !values['base-dir']) throw new Error('--base REV is required (the commit to compare this checkout with); or --base-dir DIR, a built checkout');
  const rounds = Number(values.rounds);
  const seconds = Number(values.duration);
  const warmup = Number(values.warmup);
  const base = values['base-dir'] ? { dir: values['base-dir'], sha: `${values['base-dir']} (as built)` } : baseCheckout(values.base!);
  const headBuild = values.head ? baseCheckout(values.head) : { dir: '.', sha: execFileSync('git', ['rev-parse', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim() };
  const head = headBuild.sha;
  process.chdir(ROOT);

  const cleanup = new Cleanup();
  cleanup.guard((120 + rounds * 4 * (seconds + warmup + 3)) * 1000);
  try {
    const bao = await startBao(cleanup);
    await createTransitKeys(bao);
    const dir = scratchDir(cleanup);
    const backend = { type: 'vault-transit' as const, address: bao.url, token: OPENBAO_ROOT_TOKEN };
    const gateways: Record<'base' | 'head', Gateway> = {
      base: await startGateway('signet-ab-base', backend, dir, cleanup, [], base.dir),
      head: await startGateway('signet-ab-head', backend, dir, cleanup, [], headBuild.dir),
    };
    const es256 = BENCH_ALGS.find((spec) => spec.alg === 'ES256')!;
    const results: Record<string, { cpu: number[]; rps: number[]; bao: number[] }> = {};
    const levels = values.connections!.split(',').map(Number);
    for (const connections of levels) {
      for (let round = 0; round < rounds; round++) {
        const order: Array<'base' | 'head'> = round % 2 === 0 ? ['base', 'head'] : ['head', 'base'];
        for (const which of order) {
          const gateway = gateways[which];
          const probe = new CpuProbe({ gateway: gateway.pid, openbao: bao.pid });
          const measured = await measure(tokenTarget(gateway, es256), connections, seconds, warmup, probe);
          if (measured.bad > 0) throw new Error(`${which} c${connections}: ${measured.bad} bad responses (${measured.firstError ?? JSON.stringify(measured.unexpected)})`);
          const key = `${which} c${connections}`;
          results[key] ??= { cpu: [], rps: [], bao: [] };
          results[key].cpu.push(measured.cpuUsPerRequest!.gateway!);
          results[key].bao.push(measured.cpuUsPerRequest!.openbao!);
          results[key].rps.push(measured.rps);
          process.stderr.write(`bench:ab ${key} round ${round + 1}: ${measured.cpuUsPerRequest!.gateway!.toFixed(0)} µs gateway CPU per token, ${measured.rps.toFixed(0)} req/s\n`);
        }
      }
    }
    const machine = machineInfo(bao.version, new Date());
    const date = machine.date;
    const row = (connections: number): string => {
      const b = results[`base c${connections}`]!;
      const h = results[`head c${connections}`]!;
      const ratio = median(h.cpu) / median(b.cpu);
      return `| c${connections} | ${median(b.cpu).toFixed(0)} | ${median(h.cpu).toFixed(0)} | **${((ratio - 1) * 100).toFixed(1)} %** | ${median(b.rps).toFixed(0)} | ${median(h.rps).toFixed(0)} | ${median(b.bao).toFixed(0)} / ${median(h.bao).toFixed(0)} |`;
    };
    const report = [
      `# Token path cost, side by side (${date})`,
      '',
      `Base \`${base.sha.slice(0, 12)}\` vs head \`${head.slice(0, 12)}\`: both compiled, vault-transit on one OpenBao ${bao.version}, ES256, logging at info.`,
      `${rounds} alternating rounds of ${seconds} s (after ${warmup} s of warm-up) per gateway and concurrency; medians. Machine: ${machine.cpuModel}, ${machine.cpuCount} cores, ${(machine.totalMemBytes / 2 ** 30).toFixed(1)} GiB, ${machine.os}, Node ${machine.node}.`,
      '',
      '| load | base gateway CPU µs/token | head gateway CPU µs/token | change | base req/s | head req/s | OpenBao CPU µs/token (base / head) |',
      '|---|--:|--:|--:|--:|--:|--:|',
      ...levels.map(row),
      '',
      'Every run, in order:',
      '',
      ...Object.entries(results).map(([key, r]) => `- ${key}: ${r.cpu.map((v) => v.toFixed(0)).join(', ')} µs; ${r.rps.map((v) => v.toFixed(0)).join(', ')} req/s`),
      '',
    ].join('\n');
    const file = join(ROOT, 'bench', 'results', `${date}-ab${values.out ? `-${values.out}` : ''}.md`);
    writeFileSync(file, report);
    process.stdout.write(`${report}\nwritten to ${file}\n`);
  } finally {
    await cleanup.run();
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`bench:ab failed: ${(error as Error).message}\n`);
    process.exit(1);
  },
);
