// The CLI's exit codes, in one table, and the one mapping from typed errors to them.
import { CommanderError } from 'commander';
import { AuditUnavailableError, BackendUnavailableError, ConfigError, NoSigningVersionError, ShedError, UnknownRingError, UnknownVersionError } from '../errors.js';

export const EXIT = {
  ok: 0,
  failed: 1,
  usage: 2,
  config: 3,
  unavailable: 4,
} as const;
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** For the help epilogue and the README. */
export const EXIT_MEANINGS: Readonly<Record<ExitCode, string>> = {
  [EXIT.ok]: 'done',
  [EXIT.failed]: 'the operation failed: doctor found a problem, a policy or the backend refused',
  [EXIT.usage]: 'usage error: unknown command or flag, missing or invalid argument, no such ring or version',
  [EXIT.config]: 'configuration error: the config file or a SIGNET_* variable is wrong',
  [EXIT.unavailable]: 'unavailable: a backend, Redis or the audit store did not answer; retrying may work',
};

type ErrorClass = abstract new (...args: never[]) => Error;

/** First match wins, so subclasses come before their parents; anything else is EXIT.failed. */
const EXIT_BY_ERROR: ReadonlyArray<readonly [ErrorClass, ExitCode]> = [
  [UnknownRingError, EXIT.usage],
  [UnknownVersionError, EXIT.usage],
  [ConfigError, EXIT.config],
  [BackendUnavailableError, EXIT.unavailable], // unreachable, timed out, throttled, identity provider down
  [ShedError, EXIT.unavailable], // circuit open, keys not loaded yet, deadline passed
  [NoSigningVersionError, EXIT.unavailable],
  [AuditUnavailableError, EXIT.unavailable],
];

export function exitCodeOf(error: unknown): ExitCode {
  // commander has printed its message already; its own exit code is 0 after --help and --version.
  if (error instanceof CommanderError) return error.exitCode === 0 ? EXIT.ok : EXIT.usage;
  return EXIT_BY_ERROR.find(([type]) => error instanceof type)?.[1] ?? EXIT.failed;
}
