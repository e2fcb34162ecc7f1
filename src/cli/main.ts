// run(argv, io): parse, run one command, report a failure on stderr, return the exit code.
import { CommanderError } from 'commander';
import { ConfigError, GatewayError } from '../errors.js';
import { EXIT, exitCodeOf, type ExitCode } from './exit-codes.js';
import type { CliIo } from './io.js';
import { buildProgram } from './program.js';

export type { CliIo } from './io.js';

export async function run(argv: readonly string[], io: CliIo): Promise<ExitCode> {
  try {
    await buildProgram(io).parseAsync([...argv], { from: 'user' });
    return EXIT.ok;
  } catch (error) {
    // commander has printed its own message (usage errors, --help, --version).
    if (!(error instanceof CommanderError)) io.stderr.write(`signet: ${describe(error)}\n`);
    return exitCodeOf(error);
  }
}

/** One line, no stack trace: the typed error's code names the failure. */
function describe(error: unknown): string {
  if (error instanceof ConfigError) return `configuration error: ${error.message}`;
  if (error instanceof GatewayError) return `${error.code}: ${error.message}`;
  return error instanceof Error ? error.message : String(error);
}
