// What a command may touch of its process: injected, so tests run commands in-process.
import type { Env } from '../config/load.js';
import type { LineSink } from '../observability/line-sink.js';

export interface Output {
  write(text: string): unknown;
}

export interface CliIo {
  readonly env: Env;
  readonly stdout: Output;
  readonly stderr: Output;
  /** Where operator commands log (default: this process's stdout, as the server does). */
  readonly log?: LineSink;
}
