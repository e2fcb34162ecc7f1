// Drives one HTTP target with autocannon at a fixed concurrency and measures it.
// autocannon's own percentiles are whole milliseconds (its histogram truncates), too coarse for a
// sub-millisecond c1 comparison, so latencies are taken from its per-response event instead.
import autocannon from 'autocannon';
import type { CpuPerRequest, CpuProbe } from './cpu.js';

export interface Target {
  method: 'GET' | 'POST';
  url: string;
  headers: Record<string, string>;
  body?: string;
  /** The status every response must have (200, or 304 for the conditional JWKS GET). */
  expectStatus: number;
}

export interface Measurement {
  connections: number;
  /** Measured seconds (autocannon's, after the warm-up). */
  seconds: number;
  /** Responses with the expected status. */
  ok: number;
  /** ok ÷ seconds. */
  rps: number;
  p50Ms: number;
  p99Ms: number;
  meanMs: number;
  /** Socket errors (including timeouts) and timeouts alone, as autocannon counts them. */
  errors: number;
  timeouts: number;
  /** Responses with any other status, by status. */
  unexpected: Record<string, number>;
  /** errors + every unexpected response: must be 0. */
  bad: number;
  firstError?: string;
}

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length); // nearest rank
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

async function drive(target: Target, connections: number, seconds: number): Promise<Measurement> {
  const instance = autocannon({
    url: target.url,
    method: target.method,
    headers: target.headers,
    ...(target.body === undefined ? {} : { body: target.body }),
    connections,
    duration: seconds,
    pipelining: 1,
    timeout: 10,
  });
  let latencies = new Float64Array(1 << 16);
  let ok = 0;
  const unexpected: Record<string, number> = {};
  let firstError: string | undefined;
  instance.on('response', (_client: unknown, status: number, _bytes: number, ms: number) => {
    if (status !== target.expectStatus) {
      unexpected[status] = (unexpected[status] ?? 0) + 1;
      return;
    }
    if (ok === latencies.length) {
      const grown = new Float64Array(latencies.length * 2);
      grown.set(latencies);
      latencies = grown;
    }
    latencies[ok++] = ms;
  });
  instance.on('reqError', (error: Error) => {
    firstError ??= error.message;
  });
  const result = await instance;
  const sorted = latencies.subarray(0, ok).sort();
  const unexpectedCount = Object.values(unexpected).reduce((sum, n) => sum + n, 0);
  let total = 0;
  for (const ms of sorted) total += ms;
  return {
    connections,
    seconds: result.duration,
    ok,
    rps: ok / result.duration,
    p50Ms: percentile(sorted, 50),
    p99Ms: percentile(sorted, 99),
    meanMs: ok ? total / ok : Number.NaN,
    errors: result.errors,
    timeouts: result.timeouts,
    unexpected,
    bad: result.errors + unexpectedCount,
    ...(firstError ? { firstError } : {}),
  };
}

/** Warms the target up at the same concurrency (discarded), then measures it. */
export async function measure(
  target: Target,
  connections: number,
  seconds: number,
  warmupSeconds: number,
  probe?: CpuProbe,
): Promise<Measurement & { warmupBad: number; cpuUsPerRequest?: CpuPerRequest }> {
  const warmup = warmupSeconds > 0 ? await drive(target, connections, warmupSeconds) : undefined;
  probe?.start();
  const measured = await drive(target, connections, seconds);
  const cpuUsPerRequest = probe?.stop(measured.ok);
  return { ...measured, warmupBad: warmup?.bad ?? 0, ...(cpuUsPerRequest ? { cpuUsPerRequest } : {}) };
}
