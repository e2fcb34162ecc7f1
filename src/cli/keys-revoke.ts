// signet keys revoke: emergency revocation of one version, replaced at once.
import type { Command } from 'commander';
import { loadConfig } from '../config/load.js';
import { BackendUnavailableError } from '../errors.js';
import { wholeNumber } from './arguments.js';
import type { CliIo } from './io.js';
import { operator, withKeys } from './with-keys.js';

interface RevokeOptions {
  ring: string;
  version: number;
  reason: string;
}

export function addKeysRevoke(keys: Command, io: CliIo): void {
  keys
    .command('revoke')
    .description('emergency revocation: the version leaves the JWKS and stops signing at once, a new version replaces it, webhooks are notified')
    .requiredOption('--ring <name>', 'the ring (see `signet keys list`)')
    .requiredOption('--version <n>', 'the version number to revoke (see `signet keys list`)', wholeNumber)
    .option('--reason <text>', 'recorded with the revocation', 'revoked via CLI')
    .action((options: RevokeOptions) =>
      withKeys(io, loadConfig(io.env), async (app) => {
        const ring = app.signet.keys.ring(options.ring);
        const who = operator();
        const result = await app.signet.revocation.revoke(ring, options.version, options.reason, who.admin);
        await app.signet.audit.adminAction({
          ...who,
          action: 'revoke',
          ring: ring.name,
          version: result.version,
          ...(result.kid ? { kid: result.kid } : {}),
          reason: options.reason,
          ...(result.replacement ? { replacement: result.replacement.version } : {}),
        });
        const signing = result.replacement ? `; v${result.replacement.version} (kid ${result.replacement.kid}) signs now` : '';
        io.stdout.write(`ring ${ring.name}: revoked v${result.version} (kid ${result.kid}), recorded in ${result.recordedIn.join(', ')}${signing}\n`);
        if (result.replacementError) throw new BackendUnavailableError(`nothing signs now: no replacement could be created (${result.replacementError})`);
      }),
    );
}
