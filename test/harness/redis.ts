// Redis for the tests: every test that needs one starts a redis-server of its own on a free port
// (startPrivateRedis), so the suite needs the binary, never a Redis already running.
import { spawnSync } from 'node:child_process';
import { Redis } from 'ioredis';

/** Fails the run at once, with the fix, when redis-server is not installed. */
export function checkRedisServer(): void {
  const result = spawnSync('redis-server', ['--version'], { encoding: 'utf8' });
  if (result.error || result.status !== 0) {
    throw new Error(`redis-server is not installed (${result.error?.message ?? result.stderr.trim()}). The multi-replica and fault tests start their own: apt-get install redis-server (scripts/install-test-backends.sh does it when run as root).`);
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
