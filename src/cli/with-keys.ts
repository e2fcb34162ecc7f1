// Operator commands read the same config as the server and talk to the backends directly, so
// they work when no gateway is running and act on the shared state every replica reads.
import { randomUUID } from 'node:crypto';
import { userInfo } from 'node:os';
import type { FastifyInstance } from 'fastify';
import { buildApp, createLogger } from '../app.js';
import type { SignetConfig } from '../config-schema.js';
import type { CliIo } from './io.js';

export async function withKeys<T>(io: CliIo, config: SignetConfig, work: (app: FastifyInstance) => Promise<T>, { signs = false } = {}): Promise<T> {
  // No scheduler here: looking at keys must never rotate them. No canary unless the command signs
  // anyway, so an operator's token without sign (vault-policy rotator or reader) works for the rest.
  const app = await buildApp(config, { logger: createLogger(io.env.SIGNET_LOG_LEVEL ?? 'error', io.log), scheduling: false, ...(signs ? {} : { canary: false }) });
  try {
    await app.ready();
    return await work(app);
  } finally {
    await app.close();
  }
}

export function iso(ms: number | undefined | null): string {
  return ms === undefined || ms === null ? '-' : new Date(ms).toISOString();
}

/**
 * Who an operator command acts as, for the audit trail and the revocation record: the CLI and the
 * operating-system user that ran it (an admin API call names its admin key instead).
 */
export function operator(): { admin: string; client_address: string; request_id: string } {
  let user = 'unknown';
  try {
    user = userInfo().username;
  } catch {
    // No passwd entry for this uid (some containers): the uid still says something.
    user = `uid-${process.getuid?.() ?? 'unknown'}`;
  }
  return { admin: `cli:${user}`, client_address: 'local', request_id: `cli-${randomUUID()}` };
}
