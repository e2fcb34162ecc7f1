// Open-loop load for the fault tests: requests start at a fixed rate whether or not earlier ones
// have answered (a stalled gateway must not slow the load down), and every answer is recorded.
import { request as httpRequest } from 'node:http';
import { TEST_API_KEY } from './gateway.js';

export interface Sample {
  /** performance.now() when the request started. */
  at: number;
  ms: number;
  /** HTTP status, or 0 when the request failed without one (reset, refused). */
  status: number;
  code?: string;
  retryAfter?: string | null;
  connection?: string | null;
  error?: string;
}

/** Starts `send` `rps` times a second for `durationMs`; resolves with every sample once all have answered. */
export async function atRate(rps: number, durationMs: number, send: () => Promise<Omit<Sample, 'at' | 'ms'>>): Promise<Sample[]> {
  const started = performance.now();
  const count = Math.floor((rps * durationMs) / 1000);
  const pending: Array<Promise<Sample>> = [];
  for (let i = 0; i < count; i++) {
    const due = started + (i * 1000) / rps;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    const at = performance.now();
    pending.push(
      send().then(
        (result) => ({ ...result, at, ms: performance.now() - at }),
        (error: Error) => ({ at, ms: performance.now() - at, status: 0, error: (error.cause as Error | undefined)?.message ?? error.message }),
      ),
    );
  }
  return Promise.all(pending);
}

/** POST /v1/tokens on the shared keep-alive pool (new connections open while all are busy, as real callers do). */
export async function tokenRequest(url: string): Promise<Omit<Sample, 'at' | 'ms'>> {
  const response = await fetch(`${url}/v1/tokens`, {
    method: 'POST',
    headers: { authorization: `Bearer ${TEST_API_KEY}`, 'content-type': 'application/json' },
    body: JSON.stringify({ audience: 'https://api.test' }),
  });
  const body = (await response.json()) as { error?: { code: string; message: string }; token?: string };
  return { status: response.status, code: body.error?.code, retryAfter: response.headers.get('retry-after'), connection: response.headers.get('connection') };
}

/** A GET on a connection of its own, closed after the answer: what a verifier or a probe does. */
export function freshGet(url: string, path: string, timeoutMs = 5000): Promise<Omit<Sample, 'at' | 'ms'>> {
  return new Promise((resolve, reject) => {
    const request = httpRequest(`${url}${path}`, { agent: false, headers: { connection: 'close' }, timeout: timeoutMs }, (response) => {
      let text = '';
      response.on('data', (chunk: Buffer) => (text += chunk.toString()));
      response.on('end', () => {
        let code: string | undefined;
        try {
          code = (JSON.parse(text) as { error?: { code: string } }).error?.code;
        } catch {
          // not JSON
        }
        resolve({ status: response.statusCode ?? 0, code, retryAfter: response.headers['retry-after'] ?? null });
      });
      response.on('error', reject);
    });
    request.on('timeout', () => request.destroy(new Error(`no answer in ${timeoutMs} ms`)));
    request.on('error', reject);
    request.end();
  });
}

/** The value of one sample of a metric in a Prometheus exposition (0 when absent). */
export function metricValue(exposition: string, name: string, labels: Record<string, string> = {}): number {
  const wanted = Object.entries(labels).map(([key, value]) => `${key}="${value}"`);
  for (const line of exposition.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (wanted.every((pair) => line.includes(pair))) return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return 0;
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
