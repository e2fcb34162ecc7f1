// signet keys list: rings, versions, kids and lifecycle states.
import type { Command } from 'commander';
import { loadConfig } from '../config/load.js';
import type { CliIo } from './io.js';
import { iso, withKeys } from './with-keys.js';

export function addKeysList(keys: Command, io: CliIo): void {
  keys
    .command('list')
    .description('rings, versions, kids, lifecycle states and the next change')
    .action(() =>
      withKeys(io, loadConfig(io.env), async (app) => {
        for (const ring of app.signet.keys.rings.values()) {
          const { view, versions } = ring.current();
          io.stdout.write(`ring ${ring.name}  (${ring.backend.kind} key "${ring.config.key}", ${ring.config.alg}, issuer ${ring.config.issuer})\n`);
          io.stdout.write(`  next change: ${iso(view.nextChangeAt)}  rotation due: ${iso(view.rotationDueAt)}\n`);
          for (const status of view.versions) {
            const created = versions.find((v) => v.version === status.version)?.createdAt.toISOString() ?? '-';
            const marker = status.version === view.signing ? '*' : ' ';
            io.stdout.write(`  ${marker} v${status.version}  ${status.state.padEnd(8)}  kid ${ring.kidOf(status.version)}  created ${created}  unpublish ${iso(status.unpublishAt)}\n`);
          }
        }
      }),
    );
}
