// signet client-key: a new API key and the hash that goes into the config. Needs no config.
import type { Command } from 'commander';
import { generateApiKey, sha256Hex } from '../config/load.js';
import type { CliIo } from './io.js';

export function addClientKey(program: Command, io: CliIo): void {
  program
    .command('client-key')
    .description('generate an API key and the SHA-256 to put in the config (api_key_sha256)')
    .action(() => {
      const key = generateApiKey();
      io.stdout.write(`api key (give to the client, store nowhere else): ${key}\napi_key_sha256 (put in the config): ${sha256Hex(key)}\n`);
    });
}
