// State that must be the same on every replica and that no backend can hold for us:
// revocations (where the backend cannot express them), the rotation lock, and change events.
export interface RevocationRecord {
  version: number;
  reason: string;
  /** Unix ms. */
  at: number;
}

export interface SharedState {
  /** `redis` is shared by every replica; `file` only by processes that share its directory. */
  readonly kind: 'redis' | 'file';
  revokedVersions(ring: string): Promise<Set<number>>;
  revocations(ring: string): Promise<RevocationRecord[]>;
  revoke(ring: string, record: RevocationRecord): Promise<void>;
  /** Runs `work` holding a lock across replicas; returns undefined when another holder has it. */
  withLock<T>(name: string, ttlMs: number, work: () => Promise<T>): Promise<T | undefined>;
  /** Tells every replica that a ring changed (revocation, rotation) so it re-reads it now. */
  publishChange(ring: string): Promise<void>;
  onChange(listener: (ring: string) => void): Promise<void>;
  close(): Promise<void>;
}
