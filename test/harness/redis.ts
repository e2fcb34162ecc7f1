// The Redis the multi-replica tests share state through. This machine kind runs one on
// 127.0.0.1:6379; point SIGNET_TEST_REDIS_URL elsewhere if yours does not.
import { Redis } from 'ioredis';

export const TEST_REDIS_URL = process.env.SIGNET_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

export async function checkRedis(): Promise<void> {
  const client = new Redis(TEST_REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.ping();
  } catch (error) {
    throw new Error(
      `Redis at ${TEST_REDIS_URL} is not reachable (${(error as Error).message}). The multi-replica tests need it: ` +
        'start one (apt-get install redis-server && redis-server --daemonize yes) or set SIGNET_TEST_REDIS_URL.',
    );
  } finally {
    client.disconnect();
  }
}
