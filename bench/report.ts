// Turns measurements into the ratios the targets are stated in, and renders the Markdown report.
import type { Measurement } from './load.js';
import type { ScenarioId } from './scenarios.js';

export interface Row {
  id: ScenarioId;
  label: string;
  group: 'tokens' | 'jwks';
  alg?: string;
  detail: string;
  connections: number;
  result: Measurement & { warmupBad: number; cpuUsPerRequest?: Record<string, number> };
}

export interface Machine {
  date: string;
  timestamp: string;
  cpuModel: string;
  cpuCount: number;
  totalMemBytes: number;
  os: string;
  node: string;
  openbao: string;
}

export interface Settings {
  secondsPerRun: number;
  warmupSeconds: number;
  concurrencies: number[];
  signingInputBytes: Record<string, number>;
}

export interface Check {
  name: string;
  value: number;
  unit: '×' | 'ms' | 'MB';
  /** Human form of the target, when there is one. */
  target?: string;
  /** null: informational, no target. */
  pass: boolean | null;
}

/** Peak RSS (VmHWM) per process, bytes. */
export type PeakRss = Record<string, number>;

export function isFailed(row: Row): boolean {
  return row.result.bad > 0 || row.result.warmupBad > 0 || row.result.ok === 0;
}

function find(rows: Row[], id: ScenarioId, connections: number, alg?: string): Measurement | undefined {
  return rows.find((row) => row.id === id && row.connections === connections && row.alg === alg)?.result;
}

export const MB = 1e6;

export function computeChecks(rows: Row[], rss: PeakRss, concurrencies: number[]): Check[] {
  const checks: Check[] = [];
  const high = Math.max(...concurrencies);
  const low = Math.min(...concurrencies);
  const ratio = (name: string, a: Measurement | undefined, b: Measurement | undefined, min?: number): void => {
    if (!a || !b) return;
    const value = a.rps / b.rps;
    checks.push({ name, value, unit: '×', ...(min === undefined ? {} : { target: `≥ ${min.toFixed(1)}×` }), pass: min === undefined ? null : value >= min });
  };
  for (const alg of ['ES256', 'RS256']) {
    const target = alg === 'ES256' ? 2.0 : undefined; // the stated target is for ES256; RS256 is reported
    ratio(`${alg} c${high} tokens/s: gateway/vault ÷ direct Transit`, find(rows, 'gateway-vault', high, alg), find(rows, 'direct', high, alg), target);
    ratio(`${alg} c${high} tokens/s: gateway/vault ÷ peer (OpenBao OIDC)`, find(rows, 'gateway-vault', high, alg), find(rows, 'peer', high, alg), target);
  }
  for (const alg of ['ES256', 'RS256']) {
    const b = find(rows, 'gateway-vault', low, alg);
    const a = find(rows, 'direct', low, alg);
    if (a && b) {
      const value = b.p50Ms - a.p50Ms;
      checks.push({ name: `${alg} c${low} p50: gateway/vault − direct Transit`, value, unit: 'ms', target: '≤ 1.0 ms', pass: value <= 1.0 });
    }
  }
  for (const connections of [...concurrencies].sort((x, y) => y - x)) {
    ratio(`c${connections} JWKS 200 ÷ trivial server`, find(rows, 'jwks-200', connections), find(rows, 'trivial', connections), 0.9);
    ratio(`c${connections} JWKS 200 ÷ Transit key read`, find(rows, 'jwks-200', connections), find(rows, 'transit-read', connections), 10);
  }
  for (const [name, bytes] of Object.entries(rss)) {
    if (!name.startsWith('gateway')) continue;
    const value = bytes / MB;
    checks.push({ name: `peak RSS (VmHWM) ${name}`, value, unit: 'MB', target: '≤ 150 MB', pass: value <= 150 });
  }
  return checks;
}

export function machineLine(machine: Machine): string {
  const gib = (machine.totalMemBytes / 2 ** 30).toFixed(1);
  return `${machine.cpuModel} (${machine.cpuCount} cores), ${gib} GiB RAM, ${machine.os}, Node ${machine.node}, OpenBao ${machine.openbao}`;
}

export function runLine(settings: Settings): string {
  return `${settings.secondsPerRun} s per run after a ${settings.warmupSeconds} s warm-up; autocannon, the servers and OpenBao share the machine.`;
}

export function caption(machine: Machine, settings: Settings): string {
  return `Signet bench, ${machine.date}: ${machineLine(machine)}; ${runLine(settings)}`;
}

const fixed = (value: number, digits: number): string => (Number.isFinite(value) ? value.toFixed(digits) : '–');

function formatCheck(check: Check): string {
  const value = check.unit === '×' ? `${fixed(check.value, 2)}×` : check.unit === 'ms' ? `${check.value >= 0 ? '+' : ''}${fixed(check.value, 2)} ms` : `${fixed(check.value, 1)} MB`;
  const verdict = check.pass === null ? 'info' : check.pass ? 'PASS' : '**FAIL**';
  return `| ${check.name} | ${value} | ${check.target ?? '–'} | ${verdict} |`;
}

export function markdown(machine: Machine, settings: Settings, rows: Row[], checks: Check[], rss: PeakRss): string {
  const lines = [`_${caption(machine, settings)}_`, ''];
  lines.push('| Scenario | Alg | Conns | req/s | p50 ms | p99 ms | errors | unexpected status | |', '|---|---|--:|--:|--:|--:|--:|---|---|');
  for (const row of rows) {
    const m = row.result;
    const unexpected = Object.entries(m.unexpected).map(([status, n]) => `${status}×${n}`).join(' ') || '0';
    const errors = m.timeouts ? `${m.errors} (${m.timeouts} timeouts)` : String(m.errors);
    lines.push(
      `| ${row.label} | ${row.alg ?? '–'} | ${row.connections} | ${fixed(m.rps, 0)} | ${fixed(m.p50Ms, 2)} | ${fixed(m.p99Ms, 2)} | ${errors} | ${unexpected} | ${isFailed(row) ? '**FAIL**' : 'ok'} |`,
    );
  }
  lines.push('', '| Ratio | Value | Target | Result |', '|---|--:|---|---|', ...checks.map(formatCheck));
  const cpuRows = rows.filter((row) => row.result.cpuUsPerRequest && row.connections === Math.max(...settings.concurrencies));
  if (cpuRows.length) {
    const names = Object.keys(cpuRows[0]!.result.cpuUsPerRequest!);
    lines.push('', `CPU µs per request at c${cpuRows[0]!.connections}, per process, over the measured window (who paid for the throughput on the shared cores):`, '');
    lines.push(`| Scenario | Alg | ${names.join(' | ')} | total |`, `|---|---|${names.map(() => '--:').join('|')}|--:|`);
    for (const row of cpuRows) {
      const cpu = row.result.cpuUsPerRequest!;
      const cells = names.map((name) => (cpu[name]! >= 0.5 ? fixed(cpu[name]!, 0) : '·'));
      const total = Object.values(cpu).reduce((sum, us) => sum + us, 0);
      lines.push(`| ${row.label} | ${row.alg ?? '–'} | ${cells.join(' | ')} | ${fixed(total, 0)} |`);
    }
  }
  const others = Object.entries(rss).filter(([name]) => !name.startsWith('gateway'));
  if (others.length) lines.push('', `Other peak RSS (VmHWM): ${others.map(([name, bytes]) => `${name} ${fixed(bytes / MB, 1)} MB`).join(', ')}. MB = 10^6 bytes.`);
  const inputs = Object.entries(settings.signingInputBytes).map(([alg, n]) => `${alg} ${n} B`).join(', ');
  lines.push(`JWT signing input sent to Transit in (a): ${inputs} (the gateway's own header.payload). JWKS 304 counts 304 as the expected status.`);
  return `${lines.join('\n')}\n`;
}
