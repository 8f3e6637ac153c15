// Concurrent calls coalesced into batches: callers submit one item each and await its own result, the items
// that arrive while the event loop turns go out together at the end of the turn (setImmediate) as ONE
// batch, and while `maxInFlight` batches are running newer items wait for the next one. Alone, an item goes
// out on the turn it arrived in, so an idle process adds no delay; under load one statement serves many
// callers (the DataLoader pattern). The Admin API uses it twice: lookups by id (one `= ANY($1)` statement
// per batch) and the audit trail's group commit (one multi-row INSERT per batch). A failed batch rejects
// every item in it, each caller with the same error.

export interface CoalesceOptions {
  /** Most items in one batch. */
  maxBatch: number;
  /** Most batches running at once. */
  maxInFlight: number;
}

interface Pending<T, R> {
  item: T;
  resolve: (result: R) => void;
  reject: (err: unknown) => void;
}

export class Coalescer<T, R> {
  private queue: Pending<T, R>[] = [];
  private scheduled = false;
  private inFlight = 0;
  private idleWaiters: (() => void)[] = [];
  /** Batches started so far (tests and benchmarks read it). */
  batches = 0;

  constructor(
    /** Runs one batch; resolves with one result per item, in the items' order. */
    private readonly run: (items: T[]) => Promise<readonly R[]>,
    private readonly opts: CoalesceOptions,
  ) {
    if (!(opts.maxBatch >= 1 && opts.maxInFlight >= 1)) {
      throw new Error('maxBatch and maxInFlight must be >= 1');
    }
  }

  submit(item: T): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      this.schedule();
    });
  }

  /** Resolves once nothing is queued or running. */
  idle(): Promise<void> {
    if (this.queue.length === 0 && this.inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private schedule(): void {
    if (this.scheduled || this.inFlight >= this.opts.maxInFlight || this.queue.length === 0) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      while (this.inFlight < this.opts.maxInFlight && this.queue.length > 0) {
        void this.runBatch(this.queue.splice(0, this.opts.maxBatch));
      }
    });
  }

  private async runBatch(batch: Pending<T, R>[]): Promise<void> {
    this.inFlight += 1;
    this.batches += 1;
    try {
      const results = await this.run(batch.map((p) => p.item));
      if (results.length !== batch.length) {
        throw new Error(`a batch of ${batch.length} items returned ${results.length} results`);
      }
      batch.forEach((p, i) => p.resolve(results[i] as R));
    } catch (err) {
      for (const p of batch) p.reject(err);
    } finally {
      this.inFlight -= 1;
      this.schedule();
      if (this.queue.length === 0 && this.inFlight === 0) {
        for (const wake of this.idleWaiters.splice(0)) wake();
      }
    }
  }
}
