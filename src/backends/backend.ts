// The one interface every key backend implements. The backend is the source of truth for a
// ring's versions: the gateway keeps no key state of its own, so replicas agree without talking.
import type { Context } from '@opentelemetry/api';
import { KeyIntegrityError } from '../errors.js';
import type { JwsAlg } from '../jose/algorithms.js';
import type { BackendGuard } from '../resilience/backend-guard.js';
import type { Deadline } from '../resilience/deadline.js';

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

/** One revoked version, as every store of revocations keeps it. */
export interface RevocationRecord {
  version: number;
  reason: string;
  /** Unix ms. */
  at: number;
  /** Who revoked: an admin key's name, "cli", "backend" (disabled there), "integrity". */
  by?: string;
}

/**
 * Checks a backend's signatures against the key the ring published for the version, so a key
 * changed under a published version is caught before a token leaves. Transit, whose key can be
 * replaced under its name, verifies one signature of every batch (a batch signs with one key
 * version), and single signs when `sample()` says so: all of them up to a rate, a sample above it.
 * KMS and local sign by a key fixed at refresh (an immutable KeyId, a loaded key): `sample()` too.
 */
export interface SignatureCheck {
  verify(signingInput: Uint8Array, signature: Uint8Array): boolean;
  sample(): boolean;
}

/** The request a sign is made for: its deadline, its id (sent to the backend) and its trace. */
export interface SignCall {
  deadline?: Deadline;
  /** The request id, sent on the backend call (Vault: X-Request-Id, a comma-joined list for a batch). */
  requestId?: string;
  /** The caller's trace context (its token issue span), when tracing is on. */
  trace?: Context;
}

export interface BackendHealth {
  ok: boolean;
  detail?: string;
}

export interface SigningBackend {
  readonly kind: string;
  /** The circuit breaker and call metrics of a backend that can fail (local keys cannot). */
  readonly guard?: BackendGuard;
  /** Every version that can still verify/sign, oldest first. Throws BackendKeyMissingError if the key is missing. */
  listVersions(key: KeyRef): Promise<KeyVersion[]>;
  /**
   * Raw JWS signature bytes (r||s for ECDSA) over the ASCII signing input, with exactly this
   * version. Gives up with DeadlineExceededError when `call.deadline` passes, whatever it was doing.
   */
  sign(key: KeyRef, version: number, signingInput: Uint8Array, check?: SignatureCheck, call?: SignCall): Promise<Uint8Array>;
  /** Creates a new newest version. Does not make it sign: the key ring decides when. */
  createVersion(key: KeyRef): Promise<KeyVersion>;
  /** Creates the key with one version if it does not exist yet (dev and tests; production keys come from infra). */
  ensureKey?(key: KeyRef): Promise<void>;
  /**
   * Records a revocation in the backend itself, where it lives as long as the key (KMS:
   * DisableKey; Transit: a write-once KV record beside the key; local: the key file).
   * Idempotent: called again for every revocation a refresh finds missing there.
   */
  revokeVersion?(key: KeyRef, record: RevocationRecord): Promise<void>;
  /** The revocations the backend holds (backends whose revocation shows as `disabled` need not implement it). */
  revocations?(key: KeyRef): Promise<RevocationRecord[]>;
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

/** For backends that sign one input per call: verifies a sample of their signatures. */
export function checkSampled(check: SignatureCheck | undefined, key: KeyRef, version: number, signingInput: Uint8Array, signature: Uint8Array): Uint8Array {
  if (check?.sample() && !check.verify(signingInput, signature)) throw signatureMismatch(key, version);
  return signature;
}

export function signatureMismatch(key: KeyRef, version: number): KeyIntegrityError {
  return new KeyIntegrityError(`ring "${key.ring}": the backend's signature with version ${version} does not verify against the published key; signing with it stopped`);
}
