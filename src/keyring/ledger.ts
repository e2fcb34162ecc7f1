// A ring's ledger: the facts about its versions that no backend listing shows and that must
// never be lost: which versions were revoked, from when each version signed, and which public
// key each version number was first seen with. Pure: merging and diffing only. Every store
// (the replica's state_dir, Redis, the backend where it can hold revocations) keeps a copy; the
// ledger a ring uses is the union of all of them and of what it already knew, so it never shrinks.
import type { RevocationRecord } from '../backends/backend.js';
import type { PublicJwk } from '../jose/jwk.js';

export type { RevocationRecord };

export interface RingLedger {
  revoked: ReadonlyMap<number, RevocationRecord>;
  /** Unix ms from which a version signed. Once a version has signed, no older one signs again. */
  signedFrom: ReadonlyMap<number, number>;
  /** The public key first seen for each version number. Different material later is an integrity event. */
  pins: ReadonlyMap<number, PublicJwk>;
}

/** Which kinds of fact a store can hold (the backend holds only revocations). */
export type LedgerPart = keyof RingLedger;
export const LEDGER_PARTS: readonly LedgerPart[] = ['revoked', 'signedFrom', 'pins'];

export function emptyLedger(): RingLedger {
  return { revoked: new Map(), signedFrom: new Map(), pins: new Map() };
}

export function ledgerSize(ledger: RingLedger): number {
  return ledger.revoked.size + ledger.signedFrom.size + ledger.pins.size;
}

/** Two sources that pinned different keys under one version number. */
export interface PinConflict {
  version: number;
  kids: [string, string];
}

/**
 * The union of several ledgers. The earliest revocation and the earliest signing time win; for
 * pins the first ledger given wins (pass the ring's own knowledge first) and every disagreement
 * is reported.
 */
export function mergeLedgers(ledgers: readonly RingLedger[]): { ledger: RingLedger; conflicts: PinConflict[] } {
  const revoked = new Map<number, RevocationRecord>();
  const signedFrom = new Map<number, number>();
  const pins = new Map<number, PublicJwk>();
  const conflicts: PinConflict[] = [];
  for (const ledger of ledgers) {
    for (const [version, record] of ledger.revoked) {
      const known = revoked.get(version);
      if (!known || record.at < known.at) revoked.set(version, record);
    }
    for (const [version, at] of ledger.signedFrom) {
      const known = signedFrom.get(version);
      if (known === undefined || at < known) signedFrom.set(version, at);
    }
    for (const [version, jwk] of ledger.pins) {
      const known = pins.get(version);
      if (!known) pins.set(version, jwk);
      else if (known.kid !== jwk.kid) conflicts.push({ version, kids: [known.kid, jwk.kid] });
    }
  }
  return { ledger: { revoked, signedFrom, pins }, conflicts };
}

/** The facts in `union` that `store` lacks, limited to the parts the store keeps. */
export function missingFrom(union: RingLedger, store: RingLedger, parts: readonly LedgerPart[] = LEDGER_PARTS): RingLedger {
  const lacking = <V>(all: ReadonlyMap<number, V>, have: ReadonlyMap<number, unknown>, part: LedgerPart): Map<number, V> =>
    parts.includes(part) ? new Map([...all].filter(([version]) => !have.has(version))) : new Map();
  return {
    revoked: lacking(union.revoked, store.revoked, 'revoked'),
    signedFrom: lacking(union.signedFrom, store.signedFrom, 'signedFrom'),
    pins: lacking(union.pins, store.pins, 'pins'),
  };
}

/** JSON form for stores: plain objects keyed by version. */
export interface LedgerJson {
  revoked?: Record<string, RevocationRecord>;
  signedFrom?: Record<string, number>;
  pins?: Record<string, PublicJwk>;
}

export function ledgerToJson(ledger: RingLedger): LedgerJson {
  return {
    revoked: Object.fromEntries(ledger.revoked),
    signedFrom: Object.fromEntries(ledger.signedFrom),
    pins: Object.fromEntries(ledger.pins),
  };
}

export function ledgerFromJson(json: LedgerJson | undefined): RingLedger {
  const entries = <V>(record: Record<string, V> | undefined): Map<number, V> =>
    new Map(Object.entries(record ?? {}).map(([version, value]) => [Number(version), value] as [number, V]).filter(([version]) => Number.isSafeInteger(version) && version > 0));
  return { revoked: entries(json?.revoked), signedFrom: entries(json?.signedFrom), pins: entries(json?.pins) };
}
