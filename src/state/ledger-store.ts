// A place that keeps copies of ring ledgers (see keyring/ledger.ts). Each replica keeps one in
// its state_dir; Redis keeps a shared one; the backend keeps revocations where it can. A store
// only ever gains facts: `add` never removes, and the ring re-adds whatever a store has lost.
import type { LedgerPart, RingLedger } from '../keyring/ledger.js';

export interface LedgerStore {
  /** For logs and metrics: "state_dir", "redis", "backend". */
  readonly name: string;
  /** The kinds of fact this store keeps. */
  readonly parts: readonly LedgerPart[];
  read(ring: string): Promise<RingLedger>;
  add(ring: string, facts: RingLedger): Promise<void>;
}
