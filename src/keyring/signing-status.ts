// Whether a ring can sign now, from everything that knows: its lifecycle (a version may sign),
// its backend's circuit (the backend answers), and the outcome of the ring's last sign and key
// read (the backend has the key and lets us sign with it). /readyz, /readyz/signing and
// signet_ring_can_sign all read this one answer, so none can say "able to sign" while signs fail.
import type { KeyRing } from './keyring.js';

export interface RingSigningStatus {
  name: string;
  loaded: boolean;
  can_sign: boolean;
  signing_version: number | null;
  /** Why it cannot sign. */
  reason?: string;
  refresh_error?: string;
}

const CIRCUIT_REASON: Readonly<Record<number, string>> = {
  1: 'the backend circuit is half-open: a trial call is checking whether the backend answers again',
  2: 'the backend circuit is open after repeated failures: calls fail fast until a trial call succeeds',
};

export function ringSigningStatus(ring: KeyRing): RingSigningStatus {
  const view = ring.loaded ? ring.current().view : undefined;
  const signing = view?.signing ?? null;
  const guard = ring.backend.guard;
  let reason: string | undefined;
  if (!view) reason = 'keys not loaded yet: the backend could not be read since start-up';
  else if (signing === null) reason = 'no version may sign: all revoked or quarantined, or waiting for a canary (see /v1/admin/rings)';
  else if (guard && guard.circuitState !== 0) reason = CIRCUIT_REASON[guard.circuitState];
  else if (guard && !guard.ringStatus(ring.name).ok) reason = guard.ringStatus(ring.name).reason;
  return {
    name: ring.name,
    loaded: ring.loaded,
    can_sign: reason === undefined,
    signing_version: signing,
    ...(reason ? { reason } : {}),
    ...(ring.refreshError ? { refresh_error: ring.refreshError } : {}),
  };
}
