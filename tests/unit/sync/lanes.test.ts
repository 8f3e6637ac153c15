import { describe, expect, it } from 'vitest';
import { PartitionLanes } from '../../../sync/lanes';

function deferred(): { promise: Promise<void>; resolve: () => void; reject: (e: unknown) => void } {
  let resolve!: () => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('PartitionLanes', () => {
  it('keeps one lane in order: idle() waits for the work handed over before', async () => {
    const lanes = new PartitionLanes();
    const log: string[] = [];
    const first = deferred();
    lanes.start('t/0', async () => {
      await first.promise;
      log.push('batch 1 committed');
    });
    const second = (async () => {
      await lanes.idle('t/0');
      log.push('batch 2 starts');
    })();
    await tick();
    expect(log).toEqual([]);
    first.resolve();
    await second;
    expect(log).toEqual(['batch 1 committed', 'batch 2 starts']);
  });

  it('queues work handed over without waiting: it still runs after the earlier work', async () => {
    const lanes = new PartitionLanes();
    const log: number[] = [];
    const first = deferred();
    lanes.start('t/0', async () => {
      await first.promise;
      log.push(1);
    });
    lanes.start('t/0', async () => {
      log.push(2);
    });
    await tick();
    expect(log).toEqual([]);
    first.resolve();
    await lanes.idle('t/0');
    expect(log).toEqual([1, 2]);
  });

  it('runs different lanes concurrently', async () => {
    const lanes = new PartitionLanes();
    const slow = deferred();
    let otherDone = false;
    lanes.start('t/0', () => slow.promise);
    lanes.start('t/1', async () => {
      otherDone = true;
    });
    await lanes.idle('t/1');
    expect(otherDone).toBe(true);
    let zeroIdle = false;
    void lanes.idle('t/0').then(() => (zeroIdle = true));
    await tick();
    expect(zeroIdle).toBe(false);
    slow.resolve();
    await lanes.idle('t/0');
  });

  it('keeps a failure until taken: idle() resolves, onFailure has run, new work is refused', async () => {
    const lanes = new PartitionLanes();
    const boom = new Error('commit failed');
    let rewound = false;
    lanes.start(
      't/0',
      async () => {
        throw boom;
      },
      (err) => {
        expect(err).toBe(boom);
        rewound = true;
      },
    );
    await lanes.idle('t/0');
    expect(rewound).toBe(true);
    expect(lanes.hasFailure('t/0')).toBe(true);
    expect(lanes.hasFailure('t/1')).toBe(false);
    expect(() => lanes.start('t/0', async () => undefined)).toThrow(/failure is pending/);
    expect(lanes.takeFailure('t/0')).toBe(boom);
    expect(lanes.hasFailure('t/0')).toBe(false);
    let ran = false;
    lanes.start('t/0', async () => {
      ran = true;
    });
    await lanes.idle('t/0');
    expect(ran).toBe(true);
  });

  it('drain() waits for every lane', async () => {
    const lanes = new PartitionLanes();
    const a = deferred();
    const b = deferred();
    const finished: string[] = [];
    lanes.start('a/0', async () => {
      await a.promise;
      finished.push('a');
    });
    lanes.start('b/0', async () => {
      await b.promise;
      finished.push('b');
    });
    let drained = false;
    const drain = lanes.drain().then(() => (drained = true));
    b.resolve();
    await tick();
    expect(drained).toBe(false);
    a.reject(new Error('abandoned'));
    await drain;
    expect(finished).toEqual(['b']);
    expect(lanes.hasFailure('a/0')).toBe(true);
  });
});
