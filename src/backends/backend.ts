// The one interface every key backend implements. The backend is the source of truth for a
// ring's versions: the gateway keeps no key state of its own, so replicas agree without talking.
import type { JwsAlg } from '../jose/algorithms.js';

/** Which backend key a ring is bound to, and the alg it signs with. */
export interface KeyRef {
  /** Ring name, for messages and metrics. */
  ring: string;
  /** The backend's name for the key (Transit key name, KMS alias suffix, local file stem). */
  key: string;
  alg: JwsAlg;
}

export interface KeyVersion {
  /** Monotonic per key; never reused. */
  version: number;
  createdAt: Date;
  /** DER SubjectPublicKeyInfo. Immutable for a version, so callers may cache on it. */
  spki: Uint8Array;
  /** The backend itself marks this version unusable (e.g. a disabled KMS key): treated as revoked. */
  disabled?: boolean;
}

export interface BackendHealth {
  ok: boolean;
  detail?: string;
}

export interface SigningBackend {
  readonly kind: string;
  /** Every version that can still verify/sign, oldest first. Throws UnknownRingError if the key is missing. */
  listVersions(key: KeyRef): Promise<KeyVersion[]>;
  /** Raw JWS signature bytes (r||s for ECDSA) over the ASCII signing input, with exactly this version. */
  sign(key: KeyRef, version: number, signingInput: Uint8Array): Promise<Uint8Array>;
  /** Creates a new newest version. Does not make it sign: the key ring decides when. */
  createVersion(key: KeyRef): Promise<KeyVersion>;
  /** Creates the key with one version if it does not exist yet (dev and tests; production keys come from infra). */
  ensureKey?(key: KeyRef): Promise<void>;
  /** Where the backend can express it, revokes a version in the backend itself (KMS: DisableKey). */
  revokeVersion?(key: KeyRef, version: number): Promise<void>;
  /** Records which version signs now, for backends that name it (KMS: the ring's alias). Informational. */
  markSigning?(key: KeyRef, version: number): Promise<void>;
  /**
   * Key settings that weaken the non-exportable guarantee (e.g. a Transit key marked exportable),
   * one human-readable finding each. Checked at start-up and by `signet doctor`.
   */
  auditKey?(key: KeyRef): Promise<string[]>;
  health(): Promise<BackendHealth>;
  close(): Promise<void>;
}
