// RFC 7523 §3: a client assertion's jti is accepted once. Remembered until the assertion expires,
// per replica (an assertion lives at most MAX_ASSERTION_LIFETIME_MS, which bounds a cross-replica replay).
export const MAX_ASSERTION_LIFETIME_MS = 300_000;
const MAX_ENTRIES = 100_000;

export class AssertionReplayCache {
  private readonly seen = new Map<string, number>();

  /** True the first time (client, jti) is seen before `expiresAtMs`; false for a replay. */
  firstUse(client: string, jti: string, expiresAtMs: number, now: number): boolean {
    if (this.seen.size >= MAX_ENTRIES) this.purge(now);
    const key = `${client}\u0000${jti}`;
    const known = this.seen.get(key);
    if (known !== undefined && known > now) return false;
    this.seen.set(key, expiresAtMs);
    return true;
  }

  private purge(now: number): void {
    for (const [key, expiresAt] of this.seen) if (expiresAt <= now) this.seen.delete(key);
    // Still full of live entries: forget the oldest half rather than grow without bound.
    if (this.seen.size >= MAX_ENTRIES) [...this.seen.keys()].slice(0, MAX_ENTRIES / 2).forEach((key) => this.seen.delete(key));
  }
}
