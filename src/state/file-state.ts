// Shared state in a directory: revocations survive restarts and are seen by every process that
// shares the directory, but not by replicas on other hosts (configure Redis for those).
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { RevocationRecord, SharedState } from './shared-state.js';

type Revocations = Record<string, RevocationRecord[]>;

export class FileSharedState implements SharedState {
  readonly kind = 'file';
  private readonly file: string;
  private readonly locks = new Set<string>();
  private readonly listeners: Array<(ring: string) => void> = [];
  private writes = Promise.resolve();

  constructor(private readonly directory: string) {
    this.file = join(directory, 'revocations.json');
  }

  private async read(): Promise<Revocations> {
    try {
      return JSON.parse(await readFile(this.file, 'utf8')) as Revocations;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return {};
      throw error;
    }
  }

  async revocations(ring: string): Promise<RevocationRecord[]> {
    return (await this.read())[ring] ?? [];
  }

  async revokedVersions(ring: string): Promise<Set<number>> {
    return new Set((await this.revocations(ring)).map((record) => record.version));
  }

  revoke(ring: string, record: RevocationRecord): Promise<void> {
    const write = this.writes.then(async () => {
      const all = await this.read();
      all[ring] = [...(all[ring] ?? []).filter((r) => r.version !== record.version), record];
      await mkdir(this.directory, { recursive: true, mode: 0o700 });
      const temporary = `${this.file}.${process.pid}.tmp`;
      await writeFile(temporary, JSON.stringify(all, null, 2), { mode: 0o600 });
      await rename(temporary, this.file);
    });
    this.writes = write.catch(() => undefined);
    return write;
  }

  // In-process only: with several hosts, use Redis (README: "Several replicas").
  async withLock<T>(name: string, _ttlMs: number, work: () => Promise<T>): Promise<T | undefined> {
    if (this.locks.has(name)) return undefined;
    this.locks.add(name);
    try {
      return await work();
    } finally {
      this.locks.delete(name);
    }
  }

  async publishChange(ring: string): Promise<void> {
    for (const listener of this.listeners) listener(ring);
  }

  async onChange(listener: (ring: string) => void): Promise<void> {
    this.listeners.push(listener);
  }

  async close(): Promise<void> {
    await this.writes;
  }
}
