// Group commit: concurrent requests for the same target are coalesced into one batch call.
// An idle caller goes out at once (no timer ever delays a request); while a batch is in flight,
// newcomers gather and leave together the moment it returns. Batches never exceed `maxSize`.

/** Per-item outcome of a batch call, in the order of the items. */
export type ItemResult<O> = { ok: true; value: O } | { ok: false; error: unknown };

interface Waiting<I, O> {
  item: I;
  resolve(value: O): void;
  reject(error: unknown): void;
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
   * @param run sends one batch for `lane`; returns one result per item, in order, or throws to fail them all.
   * @param maxInFlight concurrent batches per lane; more than one keeps the backend busy while a batch returns.
   */
  constructor(
    private readonly maxSize: number,
    private readonly run: (lane: string, items: I[]) => Promise<ItemResult<O>[]>,
    private readonly maxInFlight = 1,
  ) {
    if (maxSize < 1 || maxInFlight < 1) throw new RangeError('maxSize and maxInFlight must be at least 1');
  }

  submit(lane: string, item: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      let state = this.lanes.get(lane);
      if (!state) {
        state = { queue: [], inFlight: 0 };
        this.lanes.set(lane, state);
      }
      state.queue.push({ item, resolve, reject });
      this.drain(lane, state);
    });
  }

  private drain(lane: string, state: Lane<I, O>): void {
    while (state.inFlight < this.maxInFlight && state.queue.length > 0) {
      const batch = state.queue.splice(0, this.maxSize);
      state.inFlight++;
      this.stats.batches++;
      this.stats.items += batch.length;
      this.stats.largestBatch = Math.max(this.stats.largestBatch, batch.length);
      void this.send(lane, batch).finally(() => {
        state.inFlight--;
        if (state.queue.length > 0) this.drain(lane, state);
        else if (state.inFlight === 0) this.lanes.delete(lane);
      });
    }
  }

  private async send(lane: string, batch: Waiting<I, O>[]): Promise<void> {
    let results: ItemResult<O>[];
    try {
      results = await this.run(
        lane,
        batch.map((waiting) => waiting.item),
      );
    } catch (error) {
      for (const waiting of batch) waiting.reject(error);
      return;
    }
    batch.forEach((waiting, index) => {
      const result = results[index];
      if (!result) waiting.reject(new Error(`batch returned ${results.length} results for ${batch.length} items`));
      else if (result.ok) waiting.resolve(result.value);
      else waiting.reject(result.error);
    });
  }
}
