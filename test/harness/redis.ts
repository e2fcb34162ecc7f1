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

/** A Redis server of the test's own, on a free port, that the test may flush, kill and restart. */
export interface PrivateRedis {
  url: string;
  /** FLUSHALL, as an operator or an eviction storm would. */
  flush(): Promise<void>;
  /** Kill -9 and start again on the same port, with no persistence: it comes back empty. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

export async function startPrivateRedis(): Promise<PrivateRedis> {
  const { freePort, startServer } = await import('./tools.js');
  const port = await freePort();
  const url = `redis://127.0.0.1:${port}`;
  const start = () =>
    startServer('redis', 'redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], url, async () => {
      const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
      client.on('error', () => undefined);
      try {
        await client.connect();
        return (await client.ping()) === 'PONG';
      } finally {
        client.disconnect();
      }
    });
  let server = await start().catch((error: Error) => {
    throw new Error(`${error.message}. The fault tests start their own redis-server: apt-get install redis-server`);
  });
  return {
    url,
    flush: async () => {
      const client = new Redis(url);
      try {
        await client.flushall();
      } finally {
        client.disconnect();
      }
    },
    restart: async () => {
      server.process.kill('SIGKILL');
      await new Promise((resolve) => server.process.once('exit', resolve));
      server = await start();
    },
    stop: () => server.stop(),
  };
}
