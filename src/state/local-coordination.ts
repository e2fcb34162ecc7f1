// Coordination within one process, for deployments without Redis (README: "Several replicas").
import type { Coordination, RingChange } from './coordination.js';

export class LocalCoordination implements Coordination {
  readonly kind = 'local';
  private readonly locks = new Set<string>();
  private readonly listeners: Array<(change: RingChange) => void> = [];

  async withLock<T>(name: string, _ttlMs: number, work: () => Promise<T>): Promise<T | undefined> {
    if (this.locks.has(name)) return undefined;
    this.locks.add(name);
    try {
      return await work();
    } finally {
      this.locks.delete(name);
    }
  }

  async announce(change: RingChange): Promise<void> {
    for (const listener of this.listeners) listener(change);
  }

  onChange(listener: (change: RingChange) => void): void {
    this.listeners.push(listener);
  }

  async close(): Promise<void> {}
}
