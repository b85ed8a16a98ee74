// Owns backpressure on reading: the decision to stop reading every socket when too many bytes
// of entries are in flight (or a backend's queue is full) and to read again once half drained.

/** What the gate does to the sockets; the gate only decides when. */
export interface PressureGateHooks {
  /** Stop reading every socket. */
  pause(): void;
  /** Read every socket again (those not otherwise held). */
  resume(): void;
}

/**
 * Pauses reading while more than `maxInflightBytes` of entries are in flight or a backend is
 * full, and resumes once the bytes fell to half of the bound and no backend is full: the gap
 * keeps the sockets from flapping between paused and reading on every batch.
 */
export class PressureGate {
  readonly maxInflightBytes: number;
  readonly #hooks: PressureGateHooks;
  readonly #blocked: () => boolean;
  #paused = false;
  #resumedAt = 0;
  #pauses = 0;

  /**
   * @param maxInflightBytes the bound on bytes in flight
   * @param blocked whether something else (a full backend queue) holds reading back
   * @param hooks what pausing and resuming do
   */
  constructor(maxInflightBytes: number, blocked: () => boolean, hooks: PressureGateHooks) {
    this.maxInflightBytes = maxInflightBytes;
    this.#blocked = blocked;
    this.#hooks = hooks;
  }

  /** Reading is paused. */
  get paused(): boolean {
    return this.#paused;
  }

  /** When reading last resumed (`Date.now()`), 0 if never: time paused does not count against a line. */
  get resumedAt(): number {
    return this.#resumedAt;
  }

  /** Times reading was paused. */
  get pauses(): number {
    return this.#pauses;
  }

  /** Pauses or resumes for `inflightBytes` in flight now. */
  update(inflightBytes: number): void {
    const over = inflightBytes > this.maxInflightBytes || this.#blocked();
    if (over && !this.#paused) this.#pause();
    else if (!over && this.#paused && inflightBytes <= this.maxInflightBytes / 2) this.resume();
  }

  /** Pauses if `bytes` are over the bound, never resumes (entries held while routes are replaced). */
  pauseIfOver(bytes: number): void {
    if (bytes > this.maxInflightBytes && !this.#paused) this.#pause();
  }

  /** Resumes reading now, whatever is in flight (shutdown reads what clients sent). */
  resume(): void {
    if (!this.#paused) return;
    this.#paused = false;
    this.#resumedAt = Date.now();
    this.#hooks.resume();
  }

  #pause(): void {
    this.#paused = true;
    this.#pauses++;
    this.#hooks.pause();
  }
}
