// signet vault-policy: the least-privilege Vault/OpenBao policy for one role, from the config's rings.
import { Option, type Command } from 'commander';
import { loadConfig } from '../config/load.js';
import { VAULT_ROLES, vaultPolicy, type VaultRole } from '../vault/policy.js';
import type { CliIo } from './io.js';

export function addVaultPolicy(program: Command, io: CliIo): void {
  program
    .command('vault-policy')
    .description('print the Vault/OpenBao policy for a role, with the exact paths of the configured vault-transit ring keys')
    .addOption(new Option('--role <role>', 'who the policy is for').choices(VAULT_ROLES).makeOptionMandatory())
    .action((options: { role: VaultRole }) => {
      io.stdout.write(vaultPolicy(loadConfig(io.env), options.role));
    });
}
