// signet keys rotate: a new version, published now, signing once prepublish has passed.
import type { Command } from 'commander';
import { loadConfig } from '../config/load.js';
import type { CliIo } from './io.js';
import { iso, operator, withKeys } from './with-keys.js';

export function addKeysRotate(keys: Command, io: CliIo): void {
  keys
    .command('rotate')
    .description('create a new version: published now, signs after the ring\'s prepublish_seconds')
    .requiredOption('--ring <name>', 'the ring to rotate (see `signet keys list`)')
    .action((options: { ring: string }) =>
      withKeys(io, loadConfig(io.env), async (app) => {
        const ring = app.signet.keys.ring(options.ring);
        const version = await app.signet.rotation.rotateNow(ring);
        const status = ring.current().view.versions.find((v) => v.version === version);
        const kid = ring.kidOf(version);
        await app.signet.audit.adminAction({ ...operator(), action: 'rotate', ring: ring.name, version, ...(kid ? { kid } : {}) });
        io.stdout.write(`ring ${ring.name}: created v${version} (kid ${kid}), published now, signs from ${iso(status?.eligibleAt)}\n`);
      }),
    );
}
