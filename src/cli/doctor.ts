// signet doctor: one line per check of config, backends, rings, canaries and key settings.
import type { Command } from 'commander';
import type { FastifyInstance } from 'fastify';
import { buildApp, createLogger } from '../app.js';
import { loadConfig } from '../config/load.js';
import type { SignetConfig } from '../config-schema.js';
import { GatewayError } from '../errors.js';
import type { CliIo } from './io.js';
import { iso } from './with-keys.js';

type Status = 'ok' | 'warn' | 'FAIL';

/**
 * Key-audit findings fail doctor: each one weakens the non-exportable guarantee or is a check that
 * could not run. Only the local backend's finding warns: software keys are what it is.
 */
const AUDIT_SEVERITY: Readonly<Record<string, Status>> = { local: 'warn' };

/** Doctor's report is on stdout already; this only sets the exit code (1) and says how many failed. */
export class ChecksFailedError extends Error {}

export function addDoctor(program: Command, io: CliIo): void {
  program
    .command('doctor')
    .description('check config, backends, keys, canaries and key settings; exit 1 if any check fails')
    .action(() => doctor(loadConfig(io.env), io));
}

async function doctor(config: SignetConfig, io: CliIo): Promise<void> {
  let failures = 0;
  const line = (status: Status, text: string): void => {
    if (status === 'FAIL') failures++;
    io.stdout.write(`${status.padEnd(4)}  ${text}\n`);
  };
  line('ok', `config: ${config.rings.size} ring(s), ${config.backends.size} backend(s), ${config.clients.length} client(s)`);
  let app: FastifyInstance | undefined;
  try {
    app = await buildApp(config, { logger: createLogger('silent'), scheduling: false });
    await app.ready();
  } catch (error) {
    line('FAIL', `start-up: ${error instanceof GatewayError ? `${error.code}: ` : ''}${(error as Error).message}`);
  }
  if (app) {
    const { keys } = app.signet;
    for (const backend of new Set([...keys.rings.values()].map((ring) => ring.backend))) {
      const health = await backend.health();
      line(health.ok ? 'ok' : 'FAIL', `backend ${backend.kind}: ${health.detail ?? (health.ok ? 'healthy' : 'unhealthy')}`);
    }
    const audits = await keys.auditKeys();
    for (const ring of keys.rings.values()) {
      if (!ring.loaded) {
        line('FAIL', `ring ${ring.name}: not loaded (${ring.refreshError ?? 'see start-up above'})`);
        continue;
      }
      const { view } = ring.current();
      if (view.signing === null) line('FAIL', `ring ${ring.name}: no version may sign`);
      else line('ok', `ring ${ring.name}: v${view.signing} signs (kid ${ring.kidOf(view.signing)}), ${view.published.length} published, next change ${iso(view.nextChangeAt)}`);
      for (const [version, error] of ring.canaryFailures) line('FAIL', `ring ${ring.name}: canary of v${version} failed: ${error}`);
      for (const finding of audits.get(ring.name) ?? []) line(AUDIT_SEVERITY[ring.backend.kind] ?? 'FAIL', `ring ${ring.name}: ${finding}`);
    }
    await app.close();
  }
  if (failures > 0) throw new ChecksFailedError(`${failures} check(s) failed`);
}
