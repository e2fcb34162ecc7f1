// Group commit: ordering, per-item errors, the size cap, and no added latency when idle.
import { describe, expect, it } from 'vitest';
import { GroupCommit, type ItemResult } from '../src/backends/group-commit.js';

interface Call {
  lane: string;
  items: number[];
  release: (results?: ItemResult<string>[] | Error) => void;
}

/** A batch function the test answers by hand, to see exactly what was grouped and when. */
function manual(maxSize: number, maxInFlight = 1) {
  const calls: Call[] = [];
  const group = new GroupCommit<number, string>(
    maxSize,
    (lane, items) =>
      new Promise((resolve, reject) => {
        calls.push({
          lane,
          items,
          release: (results) => (results instanceof Error ? reject(results) : resolve(results ?? items.map((n) => ({ ok: true, value: `${lane}:${n}` })))),
        });
      }),
    maxInFlight,
  );
  return { group, calls };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('GroupCommit', () => {
  it('sends an idle request at once, alone, without waiting for a timer', async () => {
    const { group, calls } = manual(64);
    const result = group.submit('k', 1);
    expect(calls).toHaveLength(1); // synchronously: no setTimeout, no setImmediate
    expect(calls[0]!.items).toEqual([1]);
    calls[0]!.release();
    await expect(result).resolves.toBe('k:1');
  });

  it('gathers requests that arrive while a batch is in flight and sends them together, in order', async () => {
    const { group, calls } = manual(64);
    const first = group.submit('k', 0);
    const rest = [1, 2, 3, 4, 5].map((n) => group.submit('k', n));
    expect(calls.map((c) => c.items)).toEqual([[0]]);
    calls[0]!.release();
    await first;
    await tick();
    expect(calls.map((c) => c.items)).toEqual([[0], [1, 2, 3, 4, 5]]);
    calls[1]!.release();
    await expect(Promise.all(rest)).resolves.toEqual(['k:1', 'k:2', 'k:3', 'k:4', 'k:5']);
    expect(group.stats).toEqual({ batches: 2, items: 6, largestBatch: 5 });
  });

  it('never exceeds the size cap', async () => {
    const { group, calls } = manual(4);
    const all = Array.from({ length: 11 }, (_, n) => group.submit('k', n));
    for (let released = 0; released < calls.length; released++) {
      calls[released]!.release();
      await tick();
    }
    await Promise.all(all);
    expect(calls.map((c) => c.items.length)).toEqual([1, 4, 4, 2]);
    expect(Math.max(...calls.map((c) => c.items.length))).toBeLessThanOrEqual(4);
  });

  it('routes each per-item error to its own caller and the others still succeed', async () => {
    const { group, calls } = manual(64);
    const head = group.submit('k', 0);
    const tail = [1, 2, 3].map((n) => group.submit('k', n).then((v) => ({ v }), (e: Error) => ({ e: e.message })));
    calls[0]!.release();
    await head;
    await tick();
    calls[1]!.release([{ ok: true, value: 'a' }, { ok: false, error: new Error('bad input 2') }, { ok: true, value: 'c' }]);
    expect(await Promise.all(tail)).toEqual([{ v: 'a' }, { e: 'bad input 2' }, { v: 'c' }]);
  });

  it('fails every item of a batch whose call fails, and keeps serving afterwards', async () => {
    const { group, calls } = manual(64);
    const failing = group.submit('k', 1);
    calls[0]!.release(new Error('backend down'));
    await expect(failing).rejects.toThrow('backend down');
    const next = group.submit('k', 2);
    expect(calls).toHaveLength(2);
    calls[1]!.release();
    await expect(next).resolves.toBe('k:2');
  });

  it('rejects when the backend returns the wrong number of results', async () => {
    const { group, calls } = manual(64);
    const first = group.submit('k', 1);
    calls[0]!.release([]);
    await expect(first).rejects.toThrow(/0 results for 1 items/);
  });

  it('keeps lanes apart (one per key version) and allows several batches in flight per lane', async () => {
    const { group, calls } = manual(64, 2);
    const results = [group.submit('v1', 1), group.submit('v2', 1), group.submit('v1', 2), group.submit('v1', 3)];
    expect(calls.map((c) => [c.lane, c.items])).toEqual([['v1', [1]], ['v2', [1]], ['v1', [2]]]);
    for (const call of calls) call.release();
    await tick();
    expect(calls.map((c) => [c.lane, c.items]).at(-1)).toEqual(['v1', [3]]);
    calls.at(-1)!.release();
    await expect(Promise.all(results)).resolves.toEqual(['v1:1', 'v2:1', 'v1:2', 'v1:3']);
  });
});
