// Owns the life of the connection: connecting, noticing a break, and reconnecting with backoff
// until stopped. What to do when it is up or down is its owner's business (the events).
import { Backoff } from '@logstream/protocol';
import type { Frame } from './frame-queue';
import type { Transport } from './transport';

/** Where the connection is: `new` until the first attempt, `closed` after {@link ReconnectLoop.stop}. */
export type LinkState = 'new' | 'connecting' | 'up' | 'down' | 'closed';

/** What a {@link ReconnectLoop} tells its owner. */
export interface ReconnectLoopEvents {
  /** A connection is established; `reconnect` is false for the first one. */
  onUp(reconnect: boolean): void;
  /** The established connection broke; `unsent` are the frames it had not handed to the kernel. */
  onDown(error: Error, unsent: readonly Frame[]): void;
  /** An attempt failed (another follows after the backoff). */
  onConnectError(error: Error): void;
}

/**
 * Keeps one transport connected: after a failed attempt or a break it tries again after a
 * backoff (100 ms, ×2, at most 5 s, with jitter), until {@link stop}. The timers are
 * `unref()`ed: a pending reconnect does not keep the process alive.
 */
export class ReconnectLoop {
  readonly #transport: Transport;
  readonly #events: ReconnectLoopEvents;
  readonly #backoff = new Backoff();
  #state: LinkState = 'new';
  #connectedOnce = false;
  #timer: NodeJS.Timeout | undefined;

  constructor(transport: Transport, events: ReconnectLoopEvents) {
    this.#transport = transport;
    this.#events = events;
  }

  get state(): LinkState {
    return this.#state;
  }

  /**
   * Connects now, for a peer that must be there at start-up; on failure the state goes back to
   * `new` and the error is thrown (no retry).
   */
  async connectNow(): Promise<void> {
    this.#state = 'connecting';
    try {
      await this.#transport.connect((error, unsent) => this.#onDown(error, unsent));
    } catch (error) {
      this.#state = 'new';
      throw error;
    }
    this.#onUp();
  }

  /** Starts connecting in the background; failures are reported and retried. */
  start(): void {
    void this.#connect();
  }

  /** Treats the connection as broken (the transport failed in an unexpected way). */
  fail(error: Error): void {
    this.#onDown(error, this.#transport.destroy());
  }

  /** No more attempts. Returns whether a connection was up (it is left to the owner to end). */
  stop(): boolean {
    const wasUp = this.#state === 'up';
    this.#state = 'closed';
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    return wasUp;
  }

  // Never rejects: a failed attempt is reported and retried.
  async #connect(): Promise<void> {
    this.#timer = undefined;
    if (this.#state === 'closed') return;
    this.#state = 'connecting';
    try {
      await this.#transport.connect((error, unsent) => this.#onDown(error, unsent));
    } catch (error) {
      if (this.#isClosed()) return;
      this.#state = 'down';
      this.#schedule();
      this.#events.onConnectError(error instanceof Error ? error : new Error(String(error)));
      return;
    }
    if (this.#isClosed()) {
      this.#transport.destroy();
      return;
    }
    this.#onUp();
  }

  // A method, not an inline comparison: TypeScript would keep the narrowing across an await.
  #isClosed(): boolean {
    return this.#state === 'closed';
  }

  #onUp(): void {
    const reconnect = this.#connectedOnce;
    this.#connectedOnce = true;
    this.#backoff.reset();
    this.#state = 'up';
    this.#events.onUp(reconnect);
  }

  #onDown(error: Error, unsent: readonly Frame[]): void {
    if (this.#state !== 'up') return;
    this.#state = 'down';
    this.#schedule();
    this.#events.onDown(error, unsent);
  }

  #schedule(): void {
    if (this.#state === 'closed' || this.#timer !== undefined) return;
    this.#timer = setTimeout(() => void this.#connect(), this.#backoff.next());
    this.#timer.unref();
  }
}
