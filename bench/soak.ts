// npm run soak [-- --duration 10 --connections 1024 --node-arg=--max-old-space-size=64]   (BENCH_LABEL=name: results go to <date>-<name>-soak.*)
// Overload: the compiled vault-transit gateway against a real OpenBao, driven with POST /v1/tokens
// at 1024 connections. Reports the gateway's peak RSS (VmHWM; the README's budget is 150 MB), the
// answers by status and error code (only 200 and 503 are acceptable: excess load is shed, never
// queued without bound), and the latency. Exits 1 if the budget is missed or another status shows.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { BENCH_ALGS, TOKEN_REQUEST } from './algs.js';
import { Cleanup, runMain } from './cleanup.js';
import { machineInfo } from './machine.js';
import { createTransitKeys, OPENBAO_ROOT_TOKEN, peakRssBytes, scratchDir, startBao, startGateway } from './servers.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const RSS_BUDGET_BYTES = 150 * 1024 * 1024;
const MB = 1024 * 1024;
/** What the Dockerfile sets in NODE_OPTIONS; measure the gateway as it runs in production. */
const PRODUCTION_HEAP_CAP = '--max-old-space-size=96';

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: { duration: { type: 'string', default: '10' }, connections: { type: 'string', default: '1024' }, 'node-arg': { type: 'string', multiple: true, default: [PRODUCTION_HEAP_CAP] } },
  });
  const nodeArgs = values['node-arg'];
  const seconds = Number(values.duration);
  const connections = Number(values.connections);
  process.chdir(ROOT);
  const cleanup = new Cleanup();
  cleanup.guard(180_000);
  try {
    const bao = await startBao(cleanup);
    await createTransitKeys(bao);
    const gateway = await startGateway('signet-soak-vault', { type: 'vault-transit', address: bao.url, token: OPENBAO_ROOT_TOKEN }, scratchDir(cleanup), cleanup, nodeArgs);
    const spec = BENCH_ALGS[0]!;
    const idleRss = peakRssBytes(gateway.pid);
    process.stderr.write(`soak: gateway ${gateway.url} (pid ${gateway.pid}), idle peak RSS ${(idleRss / MB).toFixed(0)} MB; ${connections} connections for ${seconds} s…\n`);

    const statuses: Record<string, number> = {};
    const codes: Record<string, number> = {};
    const instance = autocannon({
      url: `${gateway.url}/v1/tokens`,
      method: 'POST',
      headers: { authorization: `Bearer ${gateway.apiKeys[spec.ring]!}`, 'content-type': 'application/json' },
      body: JSON.stringify(TOKEN_REQUEST),
      connections,
      duration: seconds,
      timeout: 10,
    });
    instance.on('response', (_client: unknown, status: number) => {
      statuses[status] = (statuses[status] ?? 0) + 1;
    });
    // Error codes from a sample of bodies: autocannon does not keep bodies.
    const sampler = setInterval(() => {
      void fetch(`${gateway.url}/v1/tokens`, { method: 'POST', headers: { authorization: `Bearer ${gateway.apiKeys[spec.ring]!}`, 'content-type': 'application/json' }, body: JSON.stringify(TOKEN_REQUEST) })
        .then(async (response) => {
          const body = (await response.json()) as { error?: { code: string } };
          const code = body.error?.code ?? String(response.status);
          codes[code] = (codes[code] ?? 0) + 1;
        })
        .catch(() => undefined);
    }, 100);
    // Where the memory is: V8 heap (total), off-heap (external, array buffers), resident; the peaks seen.
    const memory = { heapTotal: 0, heapUsed: 0, external: 0, rss: 0 };
    const names = { heapTotal: 'signet_nodejs_heap_size_total_bytes', heapUsed: 'signet_nodejs_heap_size_used_bytes', external: 'signet_nodejs_external_memory_bytes', rss: 'signet_process_resident_memory_bytes' } as const;
    const scraper = setInterval(() => {
      void fetch(`${gateway.url}/metrics`)
        .then((response) => response.text())
        .then((text) => {
          for (const [field, name] of Object.entries(names) as Array<[keyof typeof memory, string]>) {
            const value = Number(new RegExp(`^${name} (\\S+)`, 'm').exec(text)?.[1] ?? 0);
            memory[field] = Math.max(memory[field], value);
          }
        })
        .catch(() => undefined);
    }, 500);
    const result = await instance;
    clearInterval(sampler);
    clearInterval(scraper);
    const peakRss = peakRssBytes(gateway.pid);
    const other = Object.entries(statuses).filter(([status]) => status !== '200' && status !== '503');
    const machine = machineInfo(bao.version, new Date());
    const summary = {
      machine,
      connections,
      seconds,
      nodeArgs,
      requests: result.requests.total,
      statuses,
      sampledCodes: codes,
      errors: result.errors,
      timeouts: result.timeouts,
      latencyMs: { p50: result.latency.p50, p99: result.latency.p99, max: result.latency.max },
      peakRssBytes: peakRss,
      scrapedPeaks: memory,
      idlePeakRssBytes: idleRss,
      rssBudgetBytes: RSS_BUDGET_BYTES,
    };
    const label = process.env.BENCH_LABEL?.replace(/[^a-z0-9-]/gi, '');
    const base = join(ROOT, 'bench', 'results', `${machine.date}${label ? `-${label}` : ''}-soak`);
    mkdirSync(join(ROOT, 'bench', 'results'), { recursive: true });
    writeFileSync(`${base}.json`, `${JSON.stringify(summary, null, 2)}\n`);
    const report = [
      `# Soak: ${connections} connections, ${seconds} s, POST /v1/tokens (ES256, vault-transit)`,
      '',
      `${machine.date}, ${machine.cpuModel}, ${machine.cpuCount} cores, Node ${process.versions.node}, OpenBao ${bao.version}. Gateway: \`node ${[...nodeArgs, 'dist/cli.js'].join(' ')} serve\`, defaults (deadline 2 s, sign queue 512 per ring).`,
      '',
      '| | |',
      '|---|--:|',
      `| gateway peak RSS | **${(peakRss / MB).toFixed(0)} MB** (budget 150 MB; idle ${(idleRss / MB).toFixed(0)} MB) |`,
      `| responses | ${Object.entries(statuses).map(([status, count]) => `${count} × ${status}`).join(', ')} |`,
      `| error codes (sampled bodies) | ${Object.entries(codes).map(([code, count]) => `${code}: ${count}`).join(', ') || '-'} |`,
      `| peaks scraped from /metrics: V8 heap total / used, external, RSS | ${[memory.heapTotal, memory.heapUsed, memory.external, memory.rss].map((bytes) => `${(bytes / MB).toFixed(0)} MB`).join(' / ')} |`,
      `| socket errors / timeouts | ${result.errors} / ${result.timeouts} |`,
      `| latency p50 / p99 / max | ${result.latency.p50} / ${result.latency.p99} / ${result.latency.max} ms |`,
      '',
    ].join('\n');
    writeFileSync(`${base}.md`, report);
    process.stdout.write(`${report}\n`);
    if (other.length || result.errors > 0) {
      process.stderr.write(`soak: FAILED: unexpected statuses ${JSON.stringify(Object.fromEntries(other))}, ${result.errors} socket errors\n`);
      return 1;
    }
    if (peakRss > RSS_BUDGET_BYTES) {
      process.stderr.write(`soak: FAILED: peak RSS ${(peakRss / MB).toFixed(0)} MB is over the 150 MB budget\n`);
      return 1;
    }
    return 0;
  } finally {
    await cleanup.run();
  }
}

runMain('soak', main);
