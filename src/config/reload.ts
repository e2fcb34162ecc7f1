// Reload without restart: SIGHUP, or a change of the config file, reloads clients and identity
// providers. The new file is validated whole first; an invalid one is refused with a log line and
// the running config stays. Everything else (server, rings, backends, Redis, admin keys) needs a
// restart, and a reload that changes it says so. `signet_config_generation` counts applied reloads.
import { createHash } from 'node:crypto';
import { readFileSync, watch, type FSWatcher } from 'node:fs';
import { basename, dirname } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { ConfigError } from '../errors.js';
import { loadConfig, type Env } from './load.js';
import type { SignetConfig } from '../config-schema.js';

/** How long the watcher waits for a burst of writes (editors, ConfigMap symlink swaps) to settle. */
const WATCH_SETTLE_MS = 250;

export type ReloadOutcome = { outcome: 'applied'; generation: number } | { outcome: 'refused'; generation: number; error: string } | { outcome: 'unchanged'; generation: number };

// Sections a reload does not apply; compared only to warn that they need a restart.
const RESTART_ONLY: ReadonlyArray<[string, (config: SignetConfig) => unknown]> = [
  ['server', (c) => c.server],
  ['jwks', (c) => c.jwks],
  ['backends', (c) => [...c.backends.values()]],
  ['rings', (c) => [...c.rings.values()]],
  ['redis_url', (c) => c.redisUrl],
  ['state_dir', (c) => c.stateDir],
  ['admin', (c) => c.admin],
  ['audit', (c) => c.audit],
  ['webhooks', (c) => c.webhooks],
  ['refresh_interval_seconds', (c) => c.refreshIntervalMs],
];

function digest(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

export class ConfigReloader {
  private lastDigest: string | undefined;
  private watcher?: FSWatcher;
  private settle?: NodeJS.Timeout;

  constructor(
    private readonly app: FastifyInstance,
    private readonly file: string,
    private readonly env: Env,
    private readonly logger: Logger,
  ) {
    this.lastDigest = this.fileDigest();
  }

  private fileDigest(): string | undefined {
    try {
      return digest(readFileSync(this.file, 'utf8'));
    } catch {
      return undefined;
    }
  }

  /** Loads and validates the file, then swaps clients and providers in one step; never throws. */
  reload(trigger: string): ReloadOutcome {
    const { clients } = this.app.signet;
    const running = this.app.signet.config;
    this.lastDigest = this.fileDigest();
    let next: SignetConfig;
    try {
      next = loadConfig(this.env);
      // Clients resolve rings against the running key rings: a new ring needs a restart first.
      for (const [index, client] of next.clients.entries()) {
        for (const ring of client.rings) {
          if (ring !== '*' && !running.rings.has(ring)) throw new ConfigError(`clients[${index}].rings`, `ring "${ring}" is not running; add rings with a restart, then reload clients`);
        }
      }
    } catch (error) {
      const message = error instanceof ConfigError ? error.message : (error as Error).message;
      clients.metrics.configReloads.inc({ result: 'refused' });
      this.logger.error({ trigger, file: this.file, error: message, generation: clients.generation }, 'config reload refused; the running config stays');
      return { outcome: 'refused', generation: clients.generation, error: message };
    }
    const needRestart = RESTART_ONLY.filter(([, section]) => JSON.stringify(section(next)) !== JSON.stringify(section(running))).map(([name]) => name);
    const generation = clients.replace({ clients: next.clients, rings: running.rings, identityProviders: next.identityProviders, claimLimits: next.claimLimits });
    clients.metrics.configReloads.inc({ result: 'applied' });
    this.logger.info({ trigger, file: this.file, generation, clients: next.clients.length, identityProviders: next.identityProviders.length }, 'config reloaded: clients and identity providers');
    if (needRestart.length > 0) this.logger.warn({ sections: needRestart }, 'config reload: these sections changed and apply only after a restart');
    return { outcome: 'applied', generation };
  }

  /** Reloads when the file's content changes. Watches the directory: editors and Kubernetes ConfigMaps replace the file rather than write it. */
  watch(): void {
    const name = basename(this.file);
    this.watcher = watch(dirname(this.file), { persistent: false }, (_event, changed) => {
      if (changed !== null && changed !== name && !changed.startsWith('..')) return;
      clearTimeout(this.settle);
      this.settle = setTimeout(() => {
        if (this.fileDigest() !== this.lastDigest) this.reload('file change');
      }, WATCH_SETTLE_MS);
    });
    this.watcher.on('error', (error) => this.logger.warn({ err: error, file: this.file }, 'config file watch failed; SIGHUP still reloads'));
  }

  close(): void {
    clearTimeout(this.settle);
    this.watcher?.close();
  }
}

/** `signet serve`: SIGHUP reloads; so does a change of the file unless reload.watch is false. Returns the stop function. */
export function installReload(app: FastifyInstance, env: Env, logger: Logger): () => void {
  const file = env.SIGNET_CONFIG;
  if (!file) {
    const explain = (): void => logger.warn('SIGHUP: no config file (SIGNET_CONFIG) to reload in dev mode');
    process.on('SIGHUP', explain);
    return () => process.off('SIGHUP', explain);
  }
  const reloader = new ConfigReloader(app, file, env, logger);
  const onHangup = (): void => void reloader.reload('SIGHUP');
  process.on('SIGHUP', onHangup);
  if (app.signet.config.reload.watch) reloader.watch();
  return () => {
    process.off('SIGHUP', onHangup);
    reloader.close();
  };
}
