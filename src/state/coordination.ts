// What replicas tell each other: a lock for the rotation of a ring, and change events that make
// every replica apply a revocation and re-read a ring at once. Redis carries both between hosts;
// without Redis they reach only this process.
import type { RevocationRecord } from '../backends/backend.js';

export interface RingChange {
  ring: string;
  /** Carried in the event itself so a receiver stops signing with the version before it re-reads anything. */
  revoked?: RevocationRecord;
}

export interface Coordination {
  /** `redis` is shared by every replica; `local` only by this process. */
  readonly kind: 'redis' | 'local';
  /** Runs `work` holding a lock across replicas; returns undefined when another holder has it. */
  withLock<T>(name: string, ttlMs: number, work: () => Promise<T>): Promise<T | undefined>;
  /** Tells every replica that a ring changed (revocation, rotation). */
  announce(change: RingChange): Promise<void>;
  onChange(listener: (change: RingChange) => void): void;
  close(): Promise<void>;
}
