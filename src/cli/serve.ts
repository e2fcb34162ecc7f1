// signet serve: listen, reload on SIGHUP, drain on SIGTERM/SIGINT. The process is the server's.
import type { Command } from 'commander';
import { buildApp, createLogger } from '../app.js';
import { isLoopback } from '../config/checks.js';
import { loadConfig } from '../config/load.js';
import { installReload } from '../config/reload.js';
import type { SignetConfig } from '../config-schema.js';
import { drainAndClose } from '../resilience/shutdown.js';
import type { CliIo, Output } from './io.js';

export function addServe(program: Command, io: CliIo): void {
  program
    .command('serve')
    .description('start the gateway: the config in SIGNET_CONFIG, or dev mode (local keys, a dev client) without it')
    .action(() => serve(loadConfig(io.env), io));
}

async function serve(config: SignetConfig, io: CliIo): Promise<void> {
  const logger = createLogger(config.server.logLevel);
  // A backend that cannot be reached at start-up is retried, not fatal: exiting would be a crash loop.
  const app = await buildApp(config, { logger, requireKeysAtStart: false });
  await app.listen({ host: config.server.host, port: config.server.port });
  installReload(app, io.env, logger); // SIGHUP and config-file changes reload clients and identity providers
  if (config.devApiKey) devBanner(config, config.devApiKey, io.stderr);
  let closing = false;
  const shutdown = (signal: string): void => {
    if (closing) return;
    closing = true;
    const { drainTimeoutMs, tokenDeadlineMs } = config.server.limits;
    app.log.info({ signal, drainTimeoutMs }, 'shutting down: draining requests in flight');
    const started = performance.now();
    drainAndClose(app, drainTimeoutMs, tokenDeadlineMs).then(
      (result) => {
        const ms = Math.round(performance.now() - started);
        if (result === 'cut') app.log.warn({ ms }, 'drain timeout passed: connections still open were cut');
        else app.log.info({ ms }, 'drained');
        logger.flush(() => process.exit(0)); // the log is written asynchronously
      },
      (error: unknown) => {
        app.log.error({ err: error }, 'shutdown failed');
        logger.flush(() => process.exit(1));
      },
    );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

function devBanner(config: SignetConfig, devApiKey: NonNullable<SignetConfig['devApiKey']>, stderr: Output): void {
  // A key the operator supplied is never echoed: it may be one they use elsewhere.
  const shown = (key: { value: string; generated: boolean }, variable: string): string =>
    key.generated ? `generated for this run; set ${variable} to keep one):\n  ${key.value}` : `from ${variable}; not shown)`;
  const { host, port, publicUrl } = config.server;
  stderr.write(`\nSignet dev mode on ${publicUrl} (listening on ${host.includes(':') ? `[${host}]` : host}:${port})\n  dev API key (${shown(devApiKey, 'SIGNET_DEV_API_KEY')}\n`);
  if (config.devAdminKey) stderr.write(`  dev admin key for /v1/admin (${shown(config.devAdminKey, 'SIGNET_DEV_ADMIN_API_KEY')}\n`);
  if (!isLoopback(host)) {
    stderr.write(`\n  !!! DEV MODE IS REACHABLE FROM THE NETWORK on ${host}:${port} (SIGNET_DEV_ALLOW_REMOTE=true): the dev client may sign any audience, subject and claim, and the admin API can rotate and revoke keys. Anyone who learns a key printed here can do both. !!!\n`);
  }
  stderr.write('\n');
}
