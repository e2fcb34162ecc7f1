// signet jwks: the published JWKS, as a verifier fetches it.
import type { Command } from 'commander';
import { loadConfig } from '../config/load.js';
import type { CliIo } from './io.js';
import { withKeys } from './with-keys.js';

export function addJwks(program: Command, io: CliIo): void {
  program
    .command('jwks')
    .description('print the published JWKS')
    .option('--ring <name>', 'one ring\'s JWKS (default: every ring\'s keys)')
    .action((options: { ring?: string }) =>
      withKeys(io, loadConfig(io.env), async (app) => {
        const { document } = app.signet.keys.jwks(options.ring);
        io.stdout.write(`${JSON.stringify(JSON.parse(document.body.toString('utf8')), null, 2)}\n`);
      }),
    );
}
