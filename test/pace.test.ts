// The client-side pace limit, driven by an injected clock: no test sleeps.
import { describe, expect, it } from 'vitest';
import { Pacer } from '../src/backends/pace.js';
import { TokenBucket } from '../src/token-bucket.js';
import { BackendThrottledError } from '../src/errors.js';

function fakeTime(): { now: () => number; advance(ms: number): void; sleeps: number[]; sleep(ms: number): Promise<void> } {
  let now = 1_000_000;
  const sleeps: number[] = [];
  return {
    now: () => now,
    advance: (ms) => {
      now += ms;
    },
    sleeps,
    // Sleeping moves the fake clock, as real time would.
    sleep: async (ms) => {
      sleeps.push(ms);
      now += ms;
    },
  };
}

describe('TokenBucket', () => {
  it('allows a burst of `capacity`, then spaces calls at the rate, then refuses waits over the limit', () => {
    const time = fakeTime();
    const bucket = new TokenBucket(10, 10, time.now);
    for (let i = 0; i < 10; i++) expect(bucket.reserve(250)).toBe(0);
    expect(bucket.reserve(250)).toBeCloseTo(100);
    expect(bucket.reserve(250)).toBeCloseTo(200);
    expect(bucket.reserve(250)).toBeUndefined(); // would wait 300 ms
    expect(bucket.reserve(250)).toBeUndefined(); // a refusal reserved nothing
    time.advance(100);
    expect(bucket.reserve(250)).toBeCloseTo(200);
  });

  it('refills at the rate and never beyond capacity', () => {
    const time = fakeTime();
    const bucket = new TokenBucket(2, 2, time.now);
    expect(bucket.reserve(0)).toBe(0);
    expect(bucket.reserve(0)).toBe(0);
    expect(bucket.reserve(0)).toBeUndefined();
    time.advance(500);
    expect(bucket.reserve(0)).toBe(0);
    expect(bucket.reserve(0)).toBeUndefined();
    time.advance(3_600_000); // an hour idle still only buys `capacity` calls
    expect(bucket.reserve(0)).toBe(0);
    expect(bucket.reserve(0)).toBe(0);
    expect(bucket.reserve(0)).toBeUndefined();
  });

  it('a clock stepping backwards mints no tokens', () => {
    const time = fakeTime();
    const bucket = new TokenBucket(1, 1, time.now);
    expect(bucket.reserve(0)).toBe(0);
    time.advance(-10_000);
    expect(bucket.reserve(0)).toBeUndefined();
    time.advance(10_000);
    expect(bucket.reserve(0)).toBeUndefined(); // still no time has passed since the last reservation
    time.advance(1000);
    expect(bucket.reserve(0)).toBe(0);
  });
});

describe('Pacer', () => {
  it('0 means unlimited', async () => {
    const time = fakeTime();
    const pacer = new Pacer({ ratePerSecond: 0, now: time.now, sleep: time.sleep });
    for (let i = 0; i < 10_000; i++) await pacer.acquire('ring');
    expect(time.sleeps).toEqual([]);
  });

  it('waits short gaps and fails fast with ERR_BACKEND_THROTTLED and Retry-After 1 beyond ~250 ms', async () => {
    const time = fakeTime();
    // Callers arriving together: sleeping does not move the clock here.
    const sleeps: number[] = [];
    const pacer = new Pacer({ ratePerSecond: 5, burst: 1, now: time.now, sleep: async (ms) => void sleeps.push(ms) });
    await pacer.acquire('ring'); // the burst
    await pacer.acquire('ring'); // next slot is 200 ms away (5/s): waits
    expect(sleeps).toEqual([200]);
    const error = await pacer.acquire('ring').catch((e: unknown) => e); // would wait 400 ms
    expect(error).toBeInstanceOf(BackendThrottledError);
    expect(error).toMatchObject({ code: 'ERR_BACKEND_THROTTLED', status: 503, retryAfterSeconds: 1 });
    expect((error as Error).message).toContain('ring "ring"');
    time.advance(400); // both reserved slots have passed
    await pacer.acquire('ring');
    expect(sleeps).toEqual([200]);
  });

  it('keeps one bucket per ring', async () => {
    const time = fakeTime();
    const pacer = new Pacer({ ratePerSecond: 1, now: time.now, sleep: time.sleep });
    await pacer.acquire('a');
    await pacer.acquire('b');
    await expect(pacer.acquire('a')).rejects.toMatchObject({ code: 'ERR_BACKEND_THROTTLED' });
    await expect(pacer.acquire('b')).rejects.toMatchObject({ code: 'ERR_BACKEND_THROTTLED' });
    time.advance(1000);
    await pacer.acquire('a');
    expect(time.sleeps).toEqual([]);
  });

  it('sustains the configured rate over time', async () => {
    const time = fakeTime();
    const pacer = new Pacer({ ratePerSecond: 50, now: time.now, sleep: time.sleep });
    const start = time.now();
    let refused = 0;
    for (let i = 0; i < 1000; i++) {
      try {
        await pacer.acquire('ring');
      } catch {
        refused++;
        time.advance(20);
      }
    }
    const seconds = (time.now() - start) / 1000;
    expect((1000 - refused) / seconds).toBeLessThanOrEqual(50 * 1.05 + 50 / seconds); // rate plus the initial burst
  });
});
