// The `signet` command tree. Help, errors and exits go through the caller's streams, never
// process.exit, so the whole CLI runs in-process in tests.
import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { ENVIRONMENT } from '../config/environment.js';
import { addClientKey } from './client-key.js';
import { addDoctor } from './doctor.js';
import { EXIT_MEANINGS } from './exit-codes.js';
import type { CliIo } from './io.js';
import { addJwks } from './jwks.js';
import { addKeysList } from './keys-list.js';
import { addKeysRevoke } from './keys-revoke.js';
import { addKeysRotate } from './keys-rotate.js';
import { addServe } from './serve.js';
import { addToken } from './token.js';
import { addVaultPolicy } from './vault-policy.js';

export function buildProgram(io: CliIo): Command {
  const program = new Command('signet')
    .description('Signing gateway: JWTs signed by non-exportable keys in Vault/OpenBao Transit or AWS KMS, published as a rotation-safe JWKS.')
    .version(packageVersion(), '-V, --version', 'print the version')
    .helpOption('-h, --help', 'print this help')
    .helpCommand('help [command]', 'print the usage of a command')
    // Set before any .command(): subcommands inherit these. Positional options keep `keys revoke
    // --version N` the revoke flag, not the program's --version.
    .enablePositionalOptions()
    .exitOverride()
    .showHelpAfterError('(add --help for usage)')
    .configureOutput({
      writeOut: (text) => io.stdout.write(text),
      writeErr: (text) => io.stderr.write(text),
      outputError: (text, write) => write(`signet: ${text.replace(/^error: /, 'usage error: ')}`),
    })
    .addHelpText('after', epilogue());

  addServe(program, io);
  const keys = program.command('keys').description('list, rotate and revoke key versions (signet keys <command> --help)');
  addKeysList(keys, io);
  addKeysRotate(keys, io);
  addKeysRevoke(keys, io);
  addJwks(program, io);
  addToken(program, io);
  addClientKey(program, io);
  addDoctor(program, io);
  addVaultPolicy(program, io);
  return program;
}

function epilogue(): string {
  const width = Math.max(...ENVIRONMENT.map((variable) => variable.name.length));
  const environment = ENVIRONMENT.map((variable) => `  ${variable.name.padEnd(width)}  ${variable.meaning}`);
  const exits = Object.entries(EXIT_MEANINGS).map(([code, meaning]) => `  ${code}  ${meaning}`);
  return ['', 'Operator commands read the same config as the server and talk to the backends directly.', '', 'Environment (a config file may name others as ${VAR}):', ...environment, '', 'Exit codes:', ...exits, ''].join('\n');
}

function packageVersion(): string {
  // ../../package.json from src/cli/ and from dist/cli/ alike.
  return (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
}
