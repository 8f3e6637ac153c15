import { describe, expect, it } from 'vitest';
import { Coalescer } from '../../../core/coalesce';

/** A batch runner that records its batches and finishes each only when told to. */
function controlledRunner() {
  const batches: { items: number[]; finish: (err?: Error) => void }[] = [];
  const run = (items: number[]): Promise<number[]> =>
    new Promise((resolve, reject) => {
      batches.push({ items, finish: (err) => (err ? reject(err) : resolve(items.map((i) => i * 10))) });
    });
  return { batches, run };
}

const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('Coalescer', () => {
  it('sends the items of one event-loop turn as one batch and gives each caller its own result', async () => {
    const { batches, run } = controlledRunner();
    const c = new Coalescer(run, { maxBatch: 100, maxInFlight: 1 });
    const results = Promise.all([1, 2, 3].map((i) => c.submit(i)));
    await turn();
    expect(batches.map((b) => b.items)).toEqual([[1, 2, 3]]);
    batches[0]?.finish();
    expect(await results).toEqual([10, 20, 30]);
    expect(c.batches).toBe(1);
  });

  it('starts a lone item at once, without waiting for company', async () => {
    const { batches, run } = controlledRunner();
    const c = new Coalescer(run, { maxBatch: 100, maxInFlight: 2 });
    const one = c.submit(7);
    await turn();
    expect(batches.map((b) => b.items)).toEqual([[7]]);
    batches[0]?.finish();
    expect(await one).toBe(70);
  });

  it('splits a burst into batches of at most maxBatch items, up to maxInFlight at once', async () => {
    const { batches, run } = controlledRunner();
    const c = new Coalescer(run, { maxBatch: 3, maxInFlight: 2 });
    const results = Promise.all(Array.from({ length: 8 }, (_, i) => c.submit(i)));
    await turn();
    expect(batches.map((b) => b.items)).toEqual([
      [0, 1, 2],
      [3, 4, 5],
    ]);
    batches[0]?.finish();
    await turn();
    await turn();
    expect(batches.map((b) => b.items)).toEqual([
      [0, 1, 2],
      [3, 4, 5],
      [6, 7],
    ]);
    batches[1]?.finish();
    batches[2]?.finish();
    expect(await results).toEqual([0, 10, 20, 30, 40, 50, 60, 70]);
  });

  it('lets items that arrive while the batches run accumulate into the next one', async () => {
    const { batches, run } = controlledRunner();
    const c = new Coalescer(run, { maxBatch: 100, maxInFlight: 1 });
    const first = c.submit(1);
    await turn();
    const later = Promise.all([2, 3, 4].map((i) => c.submit(i)));
    await turn();
    expect(batches).toHaveLength(1);
    batches[0]?.finish();
    await first;
    await turn();
    expect(batches.map((b) => b.items)).toEqual([[1], [2, 3, 4]]);
    batches[1]?.finish();
    expect(await later).toEqual([20, 30, 40]);
  });

  it('rejects every item of a failed batch with its error and keeps serving the next', async () => {
    const { batches, run } = controlledRunner();
    const c = new Coalescer(run, { maxBatch: 100, maxInFlight: 1 });
    const failed = [1, 2].map((i) => c.submit(i));
    await turn();
    batches[0]?.finish(new Error('statement failed'));
    for (const f of failed) await expect(f).rejects.toThrow('statement failed');
    const next = c.submit(3);
    await turn();
    batches[1]?.finish();
    expect(await next).toBe(30);
  });

  it('rejects a batch whose runner returns a result count that does not match', async () => {
    const c = new Coalescer<number, number>(() => Promise.resolve([1]), { maxBatch: 10, maxInFlight: 1 });
    const both = [c.submit(1), c.submit(2)];
    for (const p of both) await expect(p).rejects.toThrow(/2 items returned 1 results/);
  });

  it('idle() resolves once everything queued and running is done', async () => {
    const { batches, run } = controlledRunner();
    const c = new Coalescer(run, { maxBatch: 1, maxInFlight: 1 });
    await c.idle();
    const all = Promise.all([c.submit(1), c.submit(2)]);
    let idle = false;
    const drained = c.idle().then(() => (idle = true));
    await turn();
    batches[0]?.finish();
    await turn();
    await turn();
    expect(idle).toBe(false);
    batches[1]?.finish();
    await drained;
    expect(await all).toEqual([10, 20]);
  });

  it('refuses a zero maxBatch or maxInFlight', () => {
    expect(() => new Coalescer(() => Promise.resolve([]), { maxBatch: 0, maxInFlight: 1 })).toThrow();
    expect(() => new Coalescer(() => Promise.resolve([]), { maxBatch: 1, maxInFlight: 0 })).toThrow();
  });
});
