// Each replica's own durable copy of every ring's ledger, in state_dir/ledger.json. It survives
// restarts and any loss of Redis; processes that share the directory (the server and the CLI on
// one host) share it. Writes merge with what is on disk and replace the file atomically.
import { mkdir, open, readFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { LEDGER_PARTS, ledgerFromJson, ledgerToJson, mergeLedgers, type LedgerJson, type RevocationRecord, type RingLedger } from '../keyring/ledger.js';
import type { LedgerStore } from './ledger-store.js';

interface LedgerFile {
  rings: Record<string, LedgerJson>;
}

export class FileLedgerStore implements LedgerStore {
  readonly name = 'state_dir';
  readonly parts = LEDGER_PARTS;
  private readonly file: string;
  /** Before ledgers: revocations only, `{ring: [record, …]}`. Still read, never written. */
  private readonly legacyFile: string;
  private writes = Promise.resolve();

  constructor(private readonly directory: string) {
    this.file = join(directory, 'ledger.json');
    this.legacyFile = join(directory, 'revocations.json');
  }

  private async readJson<T>(file: string): Promise<T | undefined> {
    try {
      return JSON.parse(await readFile(file, 'utf8')) as T;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
  }

  private async readAll(): Promise<LedgerFile> {
    const [current, legacy] = await Promise.all([this.readJson<LedgerFile>(this.file), this.readJson<Record<string, RevocationRecord[]>>(this.legacyFile)]);
    const rings = { ...(current?.rings ?? {}) };
    for (const [ring, records] of Object.entries(legacy ?? {})) {
      const revoked = Object.fromEntries(records.map((record) => [String(record.version), record]));
      rings[ring] = { ...rings[ring], revoked: { ...revoked, ...rings[ring]?.revoked } };
    }
    return { rings };
  }

  async read(ring: string): Promise<RingLedger> {
    return ledgerFromJson((await this.readAll()).rings[ring]);
  }

  add(ring: string, facts: RingLedger): Promise<void> {
    const write = this.writes.then(async () => {
      const all = await this.readAll();
      all.rings[ring] = ledgerToJson(mergeLedgers([ledgerFromJson(all.rings[ring]), facts]).ledger);
      await mkdir(this.directory, { recursive: true, mode: 0o700 });
      const temporary = `${this.file}.${process.pid}.tmp`;
      const handle = await open(temporary, 'w', 0o600);
      try {
        await handle.writeFile(JSON.stringify(all, null, 2));
        await handle.sync(); // a revocation must survive a power cut, not only a crash
      } finally {
        await handle.close();
      }
      await rename(temporary, this.file);
      // The rename is durable only once the directory entry is: sync the directory too (POSIX).
      const directory = await open(this.directory, 'r');
      try {
        await directory.sync();
      } finally {
        await directory.close();
      }
    });
    this.writes = write.catch(() => undefined);
    return write;
  }
}
