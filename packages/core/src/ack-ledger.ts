// Owns the ordered release of acknowledgements: the batches routed to the backends and not yet
// acknowledged, and the rule that a batch's acks go out only after every older batch's did.

/** One routed batch in the ledger, settled with {@link AckLedger.settle}. */
export interface InflightBatch<K> {
  /** Per key (a connection), the cumulative seq this batch acknowledges. */
  readonly acks: ReadonlyMap<K, number>;
  /** Bytes of the batch's entries (counted against the in-flight bound until released). */
  readonly bytes: number;
  done: boolean;
}

/**
 * Batches in flight (handed to the backends, not yet acknowledged), oldest first. A batch the
 * backends stored is settled; its acks are released only once every older batch was released
 * too, so an ack never overtakes: a client told "the first N lines are stored" never has one of
 * them still waiting in an older batch.
 */
export class AckLedger<K> {
  readonly #release: (key: K, seq: number) => void;
  #inflight: InflightBatch<K>[] = [];
  #bytes = 0;

  /** @param release called for each ack released, in the order of the batches */
  constructor(release: (key: K, seq: number) => void) {
    this.#release = release;
  }

  /** Bytes of the batches in flight (released batches no longer count). */
  get bytes(): number {
    return this.#bytes;
  }

  /** Batches in flight. */
  get size(): number {
    return this.#inflight.length;
  }

  /** Records a routed batch; settle the returned record once the backends stored it. */
  open(acks: ReadonlyMap<K, number>, bytes: number): InflightBatch<K> {
    const item: InflightBatch<K> = { acks, bytes, done: false };
    this.#inflight.push(item);
    this.#bytes += bytes;
    return item;
  }

  /** Marks `item` stored and releases the acks of every settled batch at the head, in order. */
  settle(item: InflightBatch<K>): void {
    item.done = true;
    while (this.#inflight.length > 0 && (this.#inflight[0] as InflightBatch<K>).done) {
      const head = this.#inflight.shift() as InflightBatch<K>;
      this.#bytes -= head.bytes;
      for (const [key, seq] of head.acks) this.#release(key, seq);
    }
  }
}
