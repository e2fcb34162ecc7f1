// Where log and audit lines go: every line written during one turn of the event loop leaves in a
// single write(2) at the end of that turn, and a caller can wait for that write. A token's audit
// record is thus with the OS before the token leaves, and a Transit batch of 64 tokens costs one
// write, not 64. Hand-written because pino's destinations either write each line on its own
// (sync) or buffer past the point a caller could wait for (async), and report failures only as
// events.
import { closeSync, openSync, writeSync } from 'node:fs';

const EAGAIN_RETRIES = 1000;

function pause(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** Writes all of `bytes`, retrying partial writes and a full non-blocking pipe. */
function writeAll(fd: number, bytes: Buffer): void {
  let offset = 0;
  let retries = 0;
  while (offset < bytes.length) {
    try {
      offset += writeSync(fd, bytes, offset);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EAGAIN' || ++retries > EAGAIN_RETRIES) throw error;
      pause(1);
    }
  }
}

export class LineSink {
  private pending: string[] = [];
  private waiters: Array<{ resolve: () => void; reject: (error: unknown) => void }> = [];
  private scheduled = false;
  private closed = false;

  constructor(
    private readonly fd: number,
    private readonly ownsFd = false,
  ) {}

  /** `stdout`, `stderr`, or a file opened for appending (created with mode 0600). */
  static open(destination: string): LineSink {
    if (destination === 'stdout') return new LineSink(1);
    if (destination === 'stderr') return new LineSink(2);
    return new LineSink(openSync(destination, 'a', 0o600), true);
  }

  /** Appends a chunk (whole lines); it is written at the end of this event-loop turn. */
  write(chunk: string): boolean {
    this.pending.push(chunk);
    this.schedule();
    return true;
  }

  /** Resolves once everything written so far is with the OS; rejects if that write failed. */
  flushed(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.waiters.push({ resolve, reject });
      this.schedule();
    });
  }

  /** pino calls this on logger.flush(). */
  flush(callback?: (error?: Error) => void): void {
    this.flushed().then(() => callback?.(), (error: Error) => callback?.(error));
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => this.flushSync());
  }

  flushSync(): void {
    this.scheduled = false;
    const chunks = this.pending;
    const waiters = this.waiters;
    this.pending = [];
    this.waiters = [];
    try {
      if (chunks.length > 0 && !this.closed) writeAll(this.fd, Buffer.from(chunks.join('')));
    } catch (error) {
      for (const waiter of waiters) waiter.reject(error);
      return;
    }
    for (const waiter of waiters) waiter.resolve();
  }

  close(): void {
    this.flushSync();
    this.closed = true;
    if (this.ownsFd) closeSync(this.fd);
  }
}
