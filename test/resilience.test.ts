// The pieces that bound work, one at a time: the request deadline, group commit with deadlines,
// the circuit breaker, the per-ring bound on signs in progress, and what a token request answers
// when each of them refuses. A backend that never answers is a fake here: a real server cannot
// hold a request open exactly as long as a test needs (the fault tests pause real ones).
import { connect, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { SigningBackend } from '../src/backends/backend.js';
import { GroupCommit } from '../src/backends/group-commit.js';
import { LocalBackend } from '../src/backends/local.js';
import { BackendResponseError, BackendUnavailableError, BackendUnreachableError, CircuitOpenError, DeadlineExceededError, OverloadedError } from '../src/errors.js';
import { BackendGuard } from '../src/resilience/backend-guard.js';
import { Deadline } from '../src/resilience/deadline.js';
import { SignGate } from '../src/resilience/sign-gate.js';
import { configFrom, openClient, requestToken, startGateway, tempDir, type RunningGateway } from './helpers/gateway.js';
import { metricValue, sleep } from './helpers/load.js';
import { rawExchange } from './helpers/raw-http.js';

const never = <T>(): Promise<T> => new Promise<T>(() => undefined);
const failure = (promise: Promise<unknown>): Promise<unknown> => promise.then(() => 'resolved', (error: unknown) => error);

describe('Deadline', () => {
  it('races work: DeadlineExceededError when it passes first, the outcome otherwise', async () => {
    const deadline = Deadline.after(50);
    const started = performance.now();
    expect(await failure(deadline.race(never()))).toBeInstanceOf(DeadlineExceededError);
    expect(performance.now() - started).toBeLessThan(150);
    expect(deadline.expired).toBe(true);
    expect(await failure(deadline.race(Promise.resolve(1)))).toBeInstanceOf(DeadlineExceededError); // already passed
    const fresh = Deadline.after(1000);
    expect(await fresh.race(Promise.resolve(7))).toBe(7);
    fresh.dispose();
  });

  it('aborts its signal when it passes', async () => {
    const deadline = Deadline.after(20);
    const signal = deadline.signal;
    expect(signal.aborted).toBe(false);
    await sleep(60);
    expect(signal.aborted).toBe(true);
    expect(signal.reason).toBeInstanceOf(DeadlineExceededError);
  });
});

describe('GroupCommit with deadlines', () => {
  it('takes an expired request out of the queue without sending it, and aborts a batch once none of its callers waits', async () => {
    const signals: AbortSignal[] = [];
    const sent: number[][] = [];
    const group = new GroupCommit<number, string>(64, (_lane, items, signal) => {
      sent.push(items);
      signals.push(signal);
      return never();
    });
    const first = failure(group.submit('k', 1, Deadline.after(30))); // goes out at once, then hangs
    const queued = failure(group.submit('k', 2, Deadline.after(30))); // waits behind it
    expect(group.queued('k')).toBe(1);
    expect(await queued).toBeInstanceOf(DeadlineExceededError);
    expect(await first).toBeInstanceOf(DeadlineExceededError);
    expect(group.queued('k')).toBe(0);
    expect(sent).toEqual([[1]]); // the expired request was never sent
    expect(signals[0]!.aborted).toBe(true);
  });

  it('keeps a batch going while one of its callers still waits', async () => {
    let release: (value: Array<{ ok: true; value: string }>) => void = () => undefined;
    const signals: AbortSignal[] = [];
    const group = new GroupCommit<number, string>(
      64,
      (_lane, items, signal) => {
        signals.push(signal);
        return items[0] === 0 ? Promise.resolve([{ ok: true, value: 'first' }]) : new Promise((resolve) => (release = resolve));
      },
      1,
    );
    const head = group.submit('k', 0);
    const short = failure(group.submit('k', 1, Deadline.after(20)));
    const long = group.submit('k', 2, Deadline.after(5000));
    await head; // the next two leave together as one batch
    await sleep(1);
    expect(await short).toBeInstanceOf(DeadlineExceededError);
    expect(signals[1]!.aborted).toBe(false);
    release([
      { ok: true, value: 'a' },
      { ok: true, value: 'b' },
    ]);
    expect(await long).toBe('b');
  });
});

describe('BackendGuard (circuit breaker)', () => {
  const guards: BackendGuard[] = [];
  afterEach(() => guards.splice(0).forEach((guard) => guard.close()));
  const guardOf = (failureThreshold: number, cooldownMs: number): BackendGuard => {
    const guard = new BackendGuard('test', { failureThreshold, cooldownMs });
    guards.push(guard);
    return guard;
  };
  const unreachable = () => Promise.reject(new BackendUnreachableError('refused'));

  it('opens after consecutive unreachable failures and then fails in microseconds with Retry-After', async () => {
    const guard = guardOf(3, 60_000);
    let calls = 0;
    for (let i = 0; i < 3; i++) await failure(guard.call('sign', () => (calls++, unreachable())));
    expect(guard.circuitState).toBe(2);
    expect(guard.up).toBe(false);
    const started = performance.now();
    const refused = await failure(guard.call('sign', () => (calls++, Promise.resolve(1))));
    expect(performance.now() - started).toBeLessThan(5);
    expect(refused).toBeInstanceOf(CircuitOpenError);
    expect((refused as CircuitOpenError).retryAfterSeconds).toBe(60);
    expect(calls).toBe(3);
  });

  it('does not open on answers that say no (permission, bad request): the backend is up', async () => {
    const guard = guardOf(2, 60_000);
    for (let i = 0; i < 5; i++) {
      await failure(guard.call('sign', () => Promise.reject(new BackendUnavailableError('permission denied'))));
      await failure(guard.call('sign', () => Promise.reject(new BackendResponseError('bad'))));
    }
    expect(guard.circuitState).toBe(0);
    expect(guard.up).toBe(true);
  });

  it('half-open: one trial call goes out, everyone else fails fast, and its success closes the circuit', async () => {
    const guard = guardOf(1, 30);
    await failure(guard.call('sign', unreachable));
    await sleep(40);
    let finishTrial: (value: string) => void = () => undefined;
    const trial = guard.call('sign', () => new Promise<string>((resolve) => (finishTrial = resolve)));
    expect(guard.circuitState).toBe(1);
    expect(await failure(guard.call('sign', () => Promise.resolve('x')))).toBeInstanceOf(CircuitOpenError);
    finishTrial('ok');
    expect(await trial).toBe('ok');
    expect(guard.circuitState).toBe(0);
  });

  it('probes the backend itself after the cool-down, so the circuit closes without traffic', async () => {
    const guard = guardOf(1, 30);
    let healthy = false;
    guard.setProbe(() => (healthy ? Promise.resolve() : unreachable()));
    await failure(guard.call('sign', unreachable));
    await sleep(100);
    expect(guard.circuitState).toBe(2); // the probe failed and opened it again
    healthy = true;
    await sleep(100);
    expect(guard.circuitState).toBe(0);
  });

  it('tracks whether each ring\'s last sign or key read worked; a key read does not clear a sign the backend refused', async () => {
    const guard = guardOf(5, 1000);
    await failure(guard.forRing('a', 'sign', () => Promise.reject(new BackendUnavailableError('permission denied'))));
    expect(guard.ringStatus('a')).toMatchObject({ ok: false, reason: expect.stringMatching(/permission denied/) });
    expect(guard.ringStatus('b').ok).toBe(true);
    await guard.forRing('a', 'list_versions', () => Promise.resolve([]));
    expect(guard.ringStatus('a').ok).toBe(false);
    await guard.forRing('a', 'sign', () => Promise.resolve(new Uint8Array()));
    expect(guard.ringStatus('a').ok).toBe(true);
    // An unreachable backend is cleared by any call that works again.
    await failure(guard.forRing('a', 'sign', unreachable));
    await guard.forRing('a', 'list_versions', () => Promise.resolve([]));
    expect(guard.ringStatus('a').ok).toBe(true);
  });
});

describe('SignGate', () => {
  it('refuses the sign past the limit at once with ERR_OVERLOADED (queue_full), and frees its place when a sign ends', async () => {
    const gate = new SignGate(2);
    let finish: () => void = () => undefined;
    const running = [gate.run('r', () => new Promise<void>((resolve) => (finish = resolve))), gate.run('r', never)];
    expect(gate.depth('r')).toBe(2);
    const refused = await failure(gate.run('r', () => Promise.resolve()));
    expect(refused).toBeInstanceOf(OverloadedError);
    expect(refused).toMatchObject({ code: 'ERR_OVERLOADED', status: 503, reason: 'queue_full', retryAfterSeconds: 1 });
    expect(gate.depth('other')).toBe(0);
    finish();
    await running[0];
    expect(gate.depth('r')).toBe(1);
  });
});

describe('a token request when a bound refuses it', () => {
  let gateway: RunningGateway;
  afterEach(async () => gateway?.close());

  /** The local backend, whose signs hang while `stalled.on`. */
  async function stallingGateway(server: Record<string, unknown>): Promise<{ gateway: RunningGateway; stalled: { on: boolean } }> {
    const dataDir = tempDir();
    const local = new LocalBackend({ dataDir });
    const stalled = { on: false };
    const backend: SigningBackend = Object.assign(Object.create(local) as LocalBackend, {
      sign: (...args: Parameters<LocalBackend['sign']>) => (stalled.on ? never<Uint8Array>() : local.sign(...args)),
    });
    const config = configFrom({
      server,
      backends: { dev: { type: 'local', data_dir: dataDir } },
      rings: [{ name: 'main', backend: 'dev', alg: 'ES256', create_if_missing: true }],
      clients: [openClient()],
    });
    gateway = await startGateway(config, { backends: new Map([['dev', backend]]) });
    return { gateway, stalled };
  }

  it('the deadline: 503 ERR_DEADLINE_EXCEEDED with Retry-After in the documented body, within the deadline + 100 ms', async () => {
    const { gateway: running, stalled } = await stallingGateway({ token_deadline_ms: 300 });
    expect((await requestToken(running.url, { audience: 'urn:a' })).status).toBe(200);
    stalled.on = true;
    const started = performance.now();
    const answer = await requestToken(running.url, { audience: 'urn:a' });
    const ms = performance.now() - started;
    expect(answer.status).toBe(503);
    expect(answer.body).toEqual({ error: { code: 'ERR_DEADLINE_EXCEEDED', message: expect.stringMatching(/deadline of 300 ms/) } });
    expect(answer.headers.get('retry-after')).toBe('1');
    expect(ms).toBeGreaterThanOrEqual(290);
    expect(ms).toBeLessThan(400);
    const metrics = await (await fetch(`${running.url}/metrics`)).text();
    expect(metricValue(metrics, 'signet_requests_shed_total', { reason: 'deadline' })).toBe(1);
  });

  it('the queue bound: past sign_queue_limit, 503 ERR_OVERLOADED at once; the depth is in /metrics', async () => {
    const { gateway: running, stalled } = await stallingGateway({ token_deadline_ms: 1200, sign_queue_limit: 2 });
    stalled.on = true;
    const waiting = [requestToken(running.url, { audience: 'urn:a' }), requestToken(running.url, { audience: 'urn:a' })];
    await sleep(100);
    const metrics = await (await fetch(`${running.url}/metrics`)).text();
    expect(metricValue(metrics, 'signet_sign_queue_depth', { ring: 'main' })).toBe(2);
    const started = performance.now();
    const refused = await requestToken(running.url, { audience: 'urn:a' });
    expect(performance.now() - started).toBeLessThan(100);
    expect(refused.status).toBe(503);
    expect(refused.body.error.code).toBe('ERR_OVERLOADED');
    expect(refused.headers.get('retry-after')).toBe('1');
    expect(metricValue(await (await fetch(`${running.url}/metrics`)).text(), 'signet_requests_shed_total', { reason: 'queue_full' })).toBe(1);
    for (const answer of await Promise.all(waiting)) expect(answer.body.error.code).toBe('ERR_DEADLINE_EXCEEDED');
  });

  it('event-loop pressure: token requests get 503 ERR_OVERLOADED while key discovery and probes still answer', async () => {
    const { gateway: running } = await stallingGateway({ max_event_loop_delay_ms: 20 });
    // Hold the event loop 100 ms at a time for 1.3 s, as a CPU-starved replica would: under-pressure
    // takes the mean lag once a second.
    const until = performance.now() + 1300;
    while (performance.now() < until) {
      const block = performance.now() + 100;
      while (performance.now() < block);
      await sleep(1);
    }
    const refused = await requestToken(running.url, { audience: 'urn:a' });
    expect(refused.status).toBe(503);
    expect(refused.body.error.code).toBe('ERR_OVERLOADED');
    expect((await fetch(`${running.url}/.well-known/jwks.json`)).status).toBe(200);
    expect((await fetch(`${running.url}/readyz`)).status).toBe(200);
    expect(metricValue(await (await fetch(`${running.url}/metrics`)).text(), 'signet_requests_shed_total', { reason: 'overload' })).toBe(1);
  });
});

describe('connection guards', () => {
  let gateway: RunningGateway | undefined;
  afterEach(async () => {
    await gateway?.close();
    gateway = undefined;
  });

  const start = async (server: Record<string, unknown>): Promise<{ port: number }> => {
    gateway = await startGateway(configFrom({ server, backends: { dev: { type: 'local', data_dir: tempDir() } }, rings: [{ name: 'main', backend: 'dev', alg: 'ES256', create_if_missing: true }], clients: [openClient()] }));
    return { port: Number(new URL(gateway.url).port) };
  };

  it('headers that never finish (slowloris): 408 in the documented body within request_timeout_seconds + 1 s, and the descriptor is freed', async () => {
    const { port } = await start({ request_timeout_seconds: 1 });
    const { text: answer, ms } = await rawExchange(port, 'GET /healthz HTTP/1.1\r\nHost: signet.test\r\nX-Slow: a', 10_000);
    expect(answer).toMatch(/^HTTP\/1\.1 408 /);
    expect(answer).toContain('{"error":{"code":"ERR_REQUEST_TIMEOUT"');
    expect(ms).toBeLessThan(2000 + 500);
  });

  it('at the connection cap, idle keep-alive connections are closed first, so a new caller still gets the JWKS', async () => {
    const { port } = await start({ max_connections: 16 });
    // 16 callers each make one request and keep their connection open, idle, as fetch and proxies do.
    const idle = await Promise.all(
      Array.from({ length: 16 }, () =>
        new Promise<Socket>((resolve) => {
          const socket = connect(port, '127.0.0.1', () => socket.write('GET /healthz HTTP/1.1\r\nHost: signet.test\r\n\r\n'));
          socket.on('error', () => undefined);
          socket.once('data', () => resolve(socket));
        }),
      ),
    );
    try {
      const fresh = await rawExchange(port, 'GET /.well-known/jwks.json HTTP/1.1\r\nHost: signet.test\r\nConnection: close\r\n\r\n');
      expect(fresh.text).toMatch(/^HTTP\/1\.1 200 /);
      // Past 75 % of the cap (12 of 16) every new connection made the server close the idle ones.
      await sleep(100);
      expect(idle.filter((socket) => socket.readyState !== 'open' || socket.destroyed).length).toBeGreaterThanOrEqual(4);
    } finally {
      for (const socket of idle) socket.destroy();
    }
  });
});
