// `signet …` in this process: the real command tree on an injected environment and streams.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { run } from '../../src/cli/main.js';
import { LineSink } from '../../src/observability/line-sink.js';
import { tempDir } from './gateway.js';

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
  /** The operator command's log lines (a real process writes them to its stdout). */
  log: string;
}

/** Runs one command with exactly `env` (nothing from this process's environment). */
export async function signet(argv: string[], env: Record<string, string> = {}): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  const logFile = join(tempDir('signet-cli-log-'), 'log.jsonl');
  const log = LineSink.open(logFile);
  let code: number;
  try {
    code = await run(argv, { env, stdout: { write: (text: string) => (stdout += text) }, stderr: { write: (text: string) => (stderr += text) }, log });
  } finally {
    log.close();
  }
  return { code, stdout, stderr, log: readFileSync(logFile, 'utf8') };
}

/** A config file in a fresh directory (its state_dir beside it unless `raw` sets one); returns its path. */
export function configFile(raw: Record<string, unknown>): string {
  const dir = tempDir();
  const file = join(dir, 'signet.json');
  writeFileSync(file, JSON.stringify({ state_dir: join(dir, 'state'), ...raw }));
  return file;
}

/** One local-backend ring "main" that creates its key, keys and state in fresh directories. */
export function localConfig(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { backends: { dev: { type: 'local', data_dir: tempDir() } }, rings: [{ name: 'main', backend: 'dev', alg: 'ES256', create_if_missing: true }], ...extra };
}
