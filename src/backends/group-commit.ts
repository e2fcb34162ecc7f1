// Group commit: concurrent requests for the same target are coalesced into one batch call.
// An idle caller goes out at once (no timer ever delays a request); while a batch is in flight,
// newcomers gather and leave together the moment it returns. Batches never exceed `maxSize`.
// Each request may carry a deadline: when it passes, the request leaves the queue (or stops
// waiting for its batch) at once, and a batch nobody waits for any more is aborted, so a stalled
// backend holds neither callers nor connections past their deadlines.
import type { Deadline } from '../resilience/deadline.js';

/** Per-item outcome of a batch call, in the order of the items. */
export type ItemResult<O> = { ok: true; value: O } | { ok: false; error: unknown };

interface Batch {
  /** Items of the batch whose callers still wait. */
  live: number;
  controller?: AbortController;
}

interface Waiting<I, O> {
  item: I;
  resolve(value: O): void;
  reject(error: unknown): void;
  settled: boolean;
  batch?: Batch;
  unsubscribe?: () => void;
}

interface Lane<I, O> {
  queue: Waiting<I, O>[];
  inFlight: number;
}

export interface GroupCommitStats {
  batches: number;
  items: number;
  largestBatch: number;
}

export class GroupCommit<I, O> {
  private readonly lanes = new Map<string, Lane<I, O>>();
  readonly stats: GroupCommitStats = { batches: 0, items: 0, largestBatch: 0 };

  /**
   * @param run sends one batch for `lane`; returns one result per item, in order, or throws to fail
   *   them all. `signal` aborts when no caller of the batch waits any more.
   * @param maxInFlight concurrent batches per lane; more than one keeps the backend busy while a batch returns.
   */
  constructor(
    private readonly maxSize: number,
    private readonly run: (lane: string, items: I[], signal: AbortSignal) => Promise<ItemResult<O>[]>,
    private readonly maxInFlight = 1,
  ) {
    if (maxSize < 1 || maxInFlight < 1) throw new RangeError('maxSize and maxInFlight must be at least 1');
  }

  /** Requests queued behind the batches in flight, in one lane or in all. */
  queued(lane?: string): number {
    if (lane !== undefined) return this.lanes.get(lane)?.queue.length ?? 0;
    let total = 0;
    for (const state of this.lanes.values()) total += state.queue.length;
    return total;
  }

  submit(lane: string, item: I, deadline?: Deadline): Promise<O> {
    if (deadline?.expired) return Promise.reject(deadline.error());
    return new Promise<O>((resolve, reject) => {
      let state = this.lanes.get(lane);
      if (!state) {
        state = { queue: [], inFlight: 0 };
        this.lanes.set(lane, state);
      }
      const waiting: Waiting<I, O> = { item, resolve, reject, settled: false };
      if (deadline) waiting.unsubscribe = deadline.onExpire(() => this.expire(state, waiting, deadline));
      state.queue.push(waiting);
      this.drain(lane, state);
    });
  }

  private expire(state: Lane<I, O>, waiting: Waiting<I, O>, deadline: Deadline): void {
    if (waiting.settled) return;
    waiting.settled = true;
    const batch = waiting.batch;
    if (!batch) {
      const index = state.queue.indexOf(waiting);
      if (index >= 0) state.queue.splice(index, 1);
    } else if (--batch.live === 0) {
      batch.controller?.abort(deadline.error());
    }
    waiting.reject(deadline.error());
  }

  private drain(lane: string, state: Lane<I, O>): void {
    while (state.inFlight < this.maxInFlight && state.queue.length > 0) {
      const waitings = state.queue.splice(0, this.maxSize);
      const batch: Batch = { live: waitings.length };
      for (const waiting of waitings) waiting.batch = batch;
      state.inFlight++;
      this.stats.batches++;
      this.stats.items += waitings.length;
      this.stats.largestBatch = Math.max(this.stats.largestBatch, waitings.length);
      void this.send(lane, waitings, batch).finally(() => {
        state.inFlight--;
        if (state.queue.length > 0) this.drain(lane, state);
        else if (state.inFlight === 0 && this.lanes.get(lane) === state) this.lanes.delete(lane);
      });
    }
  }

  private async send(lane: string, waitings: Waiting<I, O>[], batch: Batch): Promise<void> {
    batch.controller = new AbortController();
    let results: ItemResult<O>[];
    try {
      results = await this.run(
        lane,
        waitings.map((waiting) => waiting.item),
        batch.controller.signal,
      );
    } catch (error) {
      for (const waiting of waitings) settle(waiting, { ok: false, error });
      return;
    }
    waitings.forEach((waiting, index) => {
      settle(waiting, results[index] ?? { ok: false, error: new Error(`batch returned ${results.length} results for ${waitings.length} items`) });
    });
  }
}

function settle<I, O>(waiting: Waiting<I, O>, result: ItemResult<O>): void {
  if (waiting.settled) return;
  waiting.settled = true;
  waiting.unsubscribe?.();
  if (result.ok) waiting.resolve(result.value);
  else waiting.reject(result.error);
}
