// Per-client rate limits across replicas: with Redis, two replicas share one bucket (the limit
// holds once); without Redis each replica has its own (2× for two replicas, as documented); when
// Redis goes away, each replica falls back to its own bucket instead of refusing tokens.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sha256Hex } from '../src/config/load.js';
import { startPrivateRedis, type PrivateRedis } from './harness/redis.js';
import { configFrom, requestToken, startGateway, tempDir, type RunningGateway } from './helpers/gateway.js';

const CHATTY_KEY = 'sgt_chatty-shared-limit-key-0123456789abcd';
const BURST = 4;

function replicaConfig(dataDir: string, redisUrl?: string) {
  return configFrom({
    ...(redisUrl ? { redis_url: redisUrl } : {}),
    backends: { dev: { type: 'local', data_dir: dataDir } },
    rings: [{ name: 'main', backend: 'dev', alg: 'ES256', create_if_missing: true }],
    // 1 token per second: a burst sent within a few ms refills nothing.
    clients: [{ name: 'chatty', api_key_sha256: sha256Hex(CHATTY_KEY), rings: ['main'], audiences: ['*'], rate_limit_per_second: 1, rate_limit_burst: BURST }],
  });
}

/** Sends `count` requests alternating between the replicas, one after another; returns the statuses. */
async function burst(replicas: RunningGateway[], count: number): Promise<number[]> {
  const statuses: number[] = [];
  for (let i = 0; i < count; i++) statuses.push((await requestToken(replicas[i % replicas.length]!.url, { audience: 'x' }, CHATTY_KEY)).status);
  return statuses;
}

const granted = (statuses: number[]): number => statuses.filter((status) => status === 200).length;

describe('rate limits across replicas', () => {
  let redis: PrivateRedis;
  const running: RunningGateway[] = [];
  const start = async (redisUrl?: string): Promise<RunningGateway[]> => {
    // Each test's ring is a new local key under the same name: the previous test's replicas and
    // their pin for main v1 must be gone, or the new replicas rightly quarantine v1 as swapped.
    await Promise.all(running.splice(0).map((gateway) => gateway.close()));
    await redis.flush();
    const dataDir = tempDir();
    const pair = [await startGateway(replicaConfig(dataDir, redisUrl)), await startGateway(replicaConfig(dataDir, redisUrl))];
    running.push(...pair);
    return pair;
  };

  beforeAll(async () => {
    redis = await startPrivateRedis();
  });
  afterAll(async () => {
    await Promise.all(running.map((gateway) => gateway.close()));
    await redis?.stop();
  });

  it('with Redis, two replicas share one bucket: the burst is granted once, then 429 with Retry-After', async () => {
    const replicas = await start(redis.url);
    const statuses = await burst(replicas, 2 * BURST);
    expect(granted(statuses)).toBe(BURST);
    expect(statuses.slice(BURST)).toEqual(Array(BURST).fill(429));
    const limited = await requestToken(replicas[1]!.url, { audience: 'x' }, CHATTY_KEY);
    expect(limited.body.error.code).toBe('ERR_RATE_LIMITED');
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
  });

  it('without Redis, each replica has its own bucket (documented: N replicas allow N× the limit)', async () => {
    const replicas = await start();
    expect(granted(await burst(replicas, 2 * BURST + 2))).toBe(2 * BURST);
  });

  it('when Redis goes away, each replica falls back to its own bucket instead of refusing', async () => {
    const replicas = await start(redis.url);
    await redis.stop();
    const statuses = await burst(replicas, 2 * BURST + 2);
    expect(granted(statuses), `statuses: ${statuses.join(', ')}`).toBe(2 * BURST);
    expect(statuses.filter((status) => status !== 200 && status !== 429)).toEqual([]);
  });
});
