import { readFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  connect,
  credsAuthenticator,
  Events,
  RetentionPolicy,
  StorageType,
  nanos,
  type ConnectionOptions,
  type JetStreamClient,
  type NatsConnection,
  type NatsError,
} from 'nats';
import {
  Backoff,
  LogStreamError,
  backendEventSamples,
  closedError,
  type Backend,
  type BackendContext,
  type BackendMetric,
  type BackendWriteOptions,
  type EntryBatch,
} from '@logstream/protocol';
import { coversPrefix, isStreamName, isSubjectPrefix, subjectToken } from './subjects';
import {
  DEFAULT_CONNECT_TIMEOUT_MS,
  DEFAULT_DUPLICATE_WINDOW_MS,
  DEFAULT_MAX_INFLIGHT,
  DEFAULT_PUBLISH_TIMEOUT_MS,
  DEFAULT_REPLICAS,
  DEFAULT_STREAM,
  DEFAULT_SUBJECT_PREFIX,
  DEFAULT_WRITE_TIMEOUT_MS,
} from './defaults';

/** TLS files for the connection to NATS (PEM paths). */
export interface NatsTlsOptions {
  caFile?: string;
  certFile?: string;
  keyFile?: string;
}

/** Options of {@link NatsBackend}. */
export interface NatsBackendOptions {
  /** NATS URLs, e.g. `["nats://127.0.0.1:4222"]`; several for a cluster (any one is enough). */
  servers: string[];
  /** Subjects are `<subjectPrefix>.<daemon as a subject token>`. Default `"logs"`. */
  subjectPrefix?: string;
  /** The JetStream stream; created with subjects `<subjectPrefix>.>` when missing. Default `"LOGSTREAM"`. */
  stream?: string;
  /** Replicas of a created stream (1, 3 or 5 on a cluster). Default 1. */
  replicas?: number;
  /** `duplicate_window` of a created stream, in ms. Default 120000 (NATS's own default). */
  duplicateWindowMs?: number;
  /** Publishes awaiting their PubAck at once, per batch. Default 256. */
  maxInflight?: number;
  /** How long one publish waits for its PubAck before it is sent again (same id), in ms. Default 5000. */
  publishTimeoutMs?: number;
  /**
   * How long one write keeps retrying (timeouts, 503 during a leader election, a lost
   * connection) before it rejects, in ms; the server then retries the batch. Default 30000.
   */
  writeTimeoutMs?: number;
  /** Timeout of one connection attempt, in ms. Default 5000. */
  connectTimeoutMs?: number;
  /** Client name shown by the NATS server. Default `"logstream"`. */
  clientName?: string;
  user?: string;
  pass?: string;
  token?: string;
  /** A `.creds` file (JWT and NKey seed), as `nsc` writes it. */
  credsFile?: string;
  tls?: NatsTlsOptions;
  /** Name for logs and metric labels. Default `"nats"`. */
  name?: string;
}

/** Counters of a {@link NatsBackend}; see its README. */
export interface NatsBackendStats {
  /** Entries JetStream stored (PubAck, not a duplicate). */
  published: number;
  /** PubAcks that said `duplicate`: JetStream had the entry already (a resend). */
  duplicates: number;
  /** Publishes sent again (timeout, 503, lost connection). */
  retries: number;
  /** Entries of the batch being published that JetStream has not acknowledged yet. */
  lag_entries: number;
  /** Connections made again after one was lost. */
  reconnects: number;
}

/** How far one batch got: which entries JetStream acknowledged, kept across retried writes. */
interface Progress {
  acked: Uint8Array;
  left: number;
  /** The batch's NDJSON (a copy owned here) and each line's start in it. */
  payload: Buffer;
  starts: Uint32Array;
  subjects: string[];
  ids: string[];
}

const RETRYABLE = new Set(['TIMEOUT', '503', '408', 'DISCONNECT', 'CONNECTION_REFUSED']);

function retryable(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const e = error as Partial<NatsError>;
  if (typeof e.code === 'string' && RETRYABLE.has(e.code)) return true;
  // "JetStream system temporarily unavailable" and friends during an election.
  const api = e.api_error;
  return api !== undefined && api.code >= 500;
}

function describe(error: unknown): string {
  const e = error as Partial<NatsError> & Error;
  if (e.api_error !== undefined) return `${e.api_error.description} (${e.api_error.code}/${e.api_error.err_code})`;
  return e.code !== undefined && !String(e.message).includes(e.code) ? `${e.message} (${e.code})` : String(e.message);
}

/** True for a failure to reach any server (worth retrying in the background). */
function unreachable(error: unknown): boolean {
  const code = (error as Partial<NatsError>).code;
  return code === 'CONNECTION_REFUSED' || code === 'CONNECTION_TIMEOUT' || code === 'TIMEOUT' || code === 'DISCONNECT';
}

/**
 * A LogStream backend that publishes every entry to a NATS JetStream stream: the stored JSON
 * line as payload, the entry id as `Nats-Msg-Id`, on `<prefix>.<daemon>`. A write resolves once
 * JetStream acknowledged (PubAck) every entry of the batch, i.e. once a majority of the
 * stream's replicas has it. Publishes that time out are sent again with the same id, so JetStream stores
 * each entry once within the stream's duplicate window. A cluster that is down at start is
 * connected to in the background; a stream that cannot be created is a start-up error.
 */
export class NatsBackend implements Backend {
  readonly name: string;
  readonly #servers: string[];
  readonly #prefix: string;
  readonly #stream: string;
  readonly #replicas: number;
  readonly #duplicateWindowMs: number;
  readonly #maxInflight: number;
  readonly #publishTimeoutMs: number;
  readonly #writeTimeoutMs: number;
  readonly #connectTimeoutMs: number;
  readonly #options: NatsBackendOptions;
  #nc: NatsConnection | undefined;
  #js: JetStreamClient | undefined;
  /** Why the backend cannot publish now (not connected yet, the stream could not be made). */
  #notReady: Error = new Error('nats: not opened');
  #wakeReady: (() => void)[] = [];
  #report: (error: Error) => void = () => {};
  readonly #closing = new AbortController();
  #closed = false;
  #progress = new WeakMap<EntryBatch, Progress>();
  /** The batch written last: its unacknowledged entries are the lag. */
  #current: Progress | undefined;
  #stats = { published: 0, duplicates: 0, retries: 0, reconnects: 0 };

  constructor(options: NatsBackendOptions) {
    const prefix = options.subjectPrefix ?? DEFAULT_SUBJECT_PREFIX;
    const stream = options.stream ?? DEFAULT_STREAM;
    if (options.servers.length === 0) throw new LogStreamError('config', 'nats: servers is empty', { code: 'CONFIG' });
    if (!isSubjectPrefix(prefix))
      throw new LogStreamError('config', `nats: subjectPrefix ${JSON.stringify(prefix)} is not a literal subject (tokens, no wildcard)`, {
        code: 'CONFIG',
      });
    if (!isStreamName(stream))
      throw new LogStreamError('config', `nats: stream ${JSON.stringify(stream)} is not a stream name (no space, ".", "*", ">", "/")`, {
        code: 'CONFIG',
      });
    this.name = options.name ?? 'nats';
    this.#servers = [...options.servers];
    this.#prefix = prefix;
    this.#stream = stream;
    this.#replicas = options.replicas ?? DEFAULT_REPLICAS;
    this.#duplicateWindowMs = options.duplicateWindowMs ?? DEFAULT_DUPLICATE_WINDOW_MS;
    this.#maxInflight = options.maxInflight ?? DEFAULT_MAX_INFLIGHT;
    this.#publishTimeoutMs = options.publishTimeoutMs ?? DEFAULT_PUBLISH_TIMEOUT_MS;
    this.#writeTimeoutMs = options.writeTimeoutMs ?? DEFAULT_WRITE_TIMEOUT_MS;
    this.#connectTimeoutMs = options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
    this.#options = options;
  }

  /** The stream entries go to. */
  get stream(): string {
    return this.#stream;
  }

  /**
   * Connects and makes sure the stream exists. A cluster that cannot be reached is not an
   * error: it is reported and connected to in the background (writes wait, then fail and are
   * retried by the server). A stream that cannot be created or does not take the subjects, or
   * refused credentials, are: they reject naming the stream (or the servers).
   */
  async open(context: BackendContext = {}): Promise<void> {
    if (context.reportError !== undefined) this.#report = (error) => context.reportError?.(error);
    context.signal?.addEventListener('abort', () => this.#closing.abort(), { once: true });
    const options = await this.#connectionOptions();
    let nc: NatsConnection;
    try {
      nc = await connect(options);
    } catch (error) {
      if (!unreachable(error)) throw this.#connectError(error);
      this.#notReady = new Error(`nats: cannot reach ${this.#servers.join(', ')}: ${describe(error)}; connecting in the background`);
      this.#report(this.#notReady);
      void this.#connectInBackground(options);
      return;
    }
    try {
      await this.#ready(nc);
    } catch (error) {
      await nc.close().catch(() => undefined);
      // JetStream busy (no meta leader yet, an election): not a start-up error, tried again later.
      if (!retryable((error as LogStreamError).cause)) throw error;
      this.#notReady = error as Error;
      this.#report(this.#notReady);
      void this.#connectInBackground(options);
    }
  }

  async #connectionOptions(): Promise<ConnectionOptions> {
    const o = this.#options;
    const options: ConnectionOptions = {
      servers: this.#servers,
      name: o.clientName ?? 'logstream',
      timeout: this.#connectTimeoutMs,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 250,
      reconnectJitter: 100,
      pingInterval: 10_000,
      maxPingOut: 3,
    };
    if (o.user !== undefined) options.user = o.user;
    if (o.pass !== undefined) options.pass = o.pass;
    if (o.token !== undefined) options.token = o.token;
    if (o.credsFile !== undefined) {
      let creds: Buffer;
      try {
        creds = await readFile(o.credsFile);
      } catch (error) {
        throw new LogStreamError('config', `nats: credsFile ${o.credsFile}: cannot read it: ${(error as Error).message}`, {
          cause: error,
          code: 'CONFIG',
        });
      }
      options.authenticator = credsAuthenticator(creds);
    }
    if (o.tls !== undefined) options.tls = { ...o.tls };
    return options;
  }

  #connectError(error: unknown): LogStreamError {
    return new LogStreamError('io', `nats: cannot connect to ${this.#servers.join(', ')}: ${describe(error)}`, {
      cause: error,
      code: 'IO',
    });
  }

  /** Retries the first connection with backoff until it works or the backend closes. */
  async #connectInBackground(options: ConnectionOptions): Promise<void> {
    const backoff = new Backoff();
    const signal = this.#closing.signal;
    while (!signal.aborted) {
      try {
        const nc = await connect(options);
        if (signal.aborted) {
          await nc.close();
          return;
        }
        try {
          await this.#ready(nc);
          return;
        } catch (error) {
          // The stream could not be made: keep saying so (writes fail with it) and try again.
          await nc.close().catch(() => undefined);
          this.#notReady = error as Error;
          this.#report(error as Error);
        }
      } catch (error) {
        if (!unreachable(error)) {
          this.#notReady = this.#connectError(error);
          this.#report(this.#notReady);
        }
      }
      await sleep(backoff.next(), undefined, { signal }).catch(() => undefined);
    }
  }

  /** Makes sure the stream exists on `nc`, then lets writes through. */
  async #ready(nc: NatsConnection): Promise<void> {
    await this.#ensureStream(nc);
    this.#nc = nc;
    this.#js = nc.jetstream({ timeout: this.#publishTimeoutMs });
    void this.#watch(nc);
    // The client reconnects forever by itself; it closes only on a fatal error (credentials
    // revoked): start over then, so writes do not keep failing on a dead connection.
    void nc
      .closed()
      .then(async (error) => {
        if (this.#closed || this.#nc !== nc) return;
        this.#nc = undefined;
        this.#js = undefined;
        this.#notReady = new Error(`nats: connection closed${error ? `: ${describe(error)}` : ''}; connecting again`);
        this.#report(this.#notReady);
        await this.#connectInBackground(await this.#connectionOptions());
      })
      .catch((error: unknown) => this.#report(error as Error));
    for (const wake of this.#wakeReady.splice(0)) wake();
  }

  async #ensureStream(nc: NatsConnection): Promise<void> {
    const stream = this.#stream;
    const subject = `${this.#prefix}.>`;
    const fail = (what: string, error?: unknown) =>
      new LogStreamError('io', `nats: stream ${stream}: ${what}${error === undefined ? '' : `: ${describe(error)}`}`, {
        cause: error,
        code: 'BACKEND',
      });
    let jsm;
    try {
      jsm = await nc.jetstreamManager({ timeout: this.#connectTimeoutMs });
    } catch (error) {
      throw fail('JetStream is not available', error);
    }
    let subjects: string[] | undefined;
    try {
      subjects = (await jsm.streams.info(stream)).config.subjects ?? [];
    } catch (error) {
      if ((error as Partial<NatsError>).api_error?.err_code !== 10059) throw fail('cannot look it up', error);
    }
    if (subjects === undefined) {
      try {
        await jsm.streams.add({
          name: stream,
          subjects: [subject],
          num_replicas: this.#replicas,
          duplicate_window: nanos(this.#duplicateWindowMs),
          storage: StorageType.File,
          retention: RetentionPolicy.Limits,
        });
      } catch (error) {
        throw fail(`cannot create it with subjects "${subject}" and ${this.#replicas} replica(s)`, error);
      }
      return;
    }
    if (!subjects.some((s) => coversPrefix(s, this.#prefix)))
      throw fail(`exists but does not take subjects "${subject}" (its subjects: ${subjects.join(', ') || 'none'})`);
  }

  /** Counts reconnects and reports a lost connection (the client reconnects by itself). */
  async #watch(nc: NatsConnection): Promise<void> {
    for await (const status of nc.status()) {
      if (status.type === Events.Disconnect) {
        const server = typeof status.data === 'string' ? status.data : 'the server';
        this.#report(new Error(`nats: lost ${server}; reconnecting`));
      } else if (status.type === Events.Reconnect) this.#stats.reconnects++;
    }
  }

  /** The JetStream client once connected; waits at most the connect timeout (or the signal). */
  async #client(signal: AbortSignal): Promise<JetStreamClient> {
    if (this.#js !== undefined) return this.#js;
    if (this.#closed) throw closedError(`${this.name} backend`);
    let wake: () => void = () => {};
    const woken = new Promise<void>((resolve) => {
      wake = resolve;
      this.#wakeReady.push(resolve);
    });
    try {
      await Promise.race([woken, sleep(this.#connectTimeoutMs, undefined, { signal }).catch(() => undefined)]);
    } finally {
      this.#wakeReady = this.#wakeReady.filter((w) => w !== wake);
    }
    if (signal.aborted) throw signal.reason;
    if (this.#js === undefined) throw this.#notReady;
    return this.#js;
  }

  #prepare(batch: EntryBatch): Progress {
    const entries = batch.entries();
    // A copy owned here: publishes still buffered by the client outlive the batch's socket views.
    const payload = Buffer.from(batch.ndjson());
    const starts = new Uint32Array(batch.length + 1);
    let at = 0;
    for (let i = 0; i < batch.length; i++) {
      starts[i] = at;
      at += (batch.lines[i] as Buffer).length + 1;
    }
    starts[batch.length] = at;
    const tokens = new Map<string, string>();
    const subjects: string[] = [];
    const ids: string[] = [];
    for (const entry of entries) {
      let subject = tokens.get(entry.daemon);
      if (subject === undefined) {
        subject = `${this.#prefix}.${subjectToken(entry.daemon)}`;
        tokens.set(entry.daemon, subject);
      }
      subjects.push(subject);
      ids.push(entry.id);
    }
    return { acked: new Uint8Array(batch.length), left: batch.length, payload, starts, subjects, ids };
  }

  /**
   * Publishes every entry of `batch` not yet acknowledged by JetStream, at most `maxInflight` at
   * once, and resolves when all are. A rejected write keeps what was acknowledged: its retry
   * (the same batch object) publishes only the rest.
   */
  async write(batch: EntryBatch, options: BackendWriteOptions): Promise<void> {
    const { signal } = options;
    if (signal.aborted) throw signal.reason;
    const js = await this.#client(signal);
    let progress = this.#progress.get(batch);
    if (progress === undefined) {
      progress = this.#prepare(batch);
      this.#progress.set(batch, progress);
    }
    this.#current = progress;
    const p = progress;
    const todo: number[] = [];
    for (let i = 0; i < p.acked.length; i++) if (p.acked[i] === 0) todo.push(i);
    const deadline = performance.now() + this.#writeTimeoutMs;
    // Stops the other publishers once one failed for good, so the write settles promptly.
    const stop = new AbortController();
    const onAbort = () => stop.abort(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    let next = 0;
    let failure: unknown;
    const publisher = async () => {
      while (next < todo.length && !stop.signal.aborted) {
        const i = todo[next++] as number;
        try {
          await this.#publish(js, p, i, deadline, stop.signal);
        } catch (error) {
          failure ??= error;
          stop.abort(error);
        }
      }
    };
    try {
      await Promise.all(Array.from({ length: Math.min(this.#maxInflight, todo.length) }, publisher));
    } finally {
      signal.removeEventListener('abort', onAbort);
    }
    if (signal.aborted) throw signal.reason;
    if (failure !== undefined) {
      throw new LogStreamError(
        'io',
        `nats: stream ${this.#stream}: ${p.left} of ${p.acked.length} entries not acknowledged: ${describe(failure)}`,
        { cause: failure, code: 'BACKEND' },
      );
    }
  }

  async #publish(js: JetStreamClient, p: Progress, i: number, deadline: number, signal: AbortSignal): Promise<void> {
    const data = p.payload.subarray(p.starts[i], (p.starts[i + 1] as number) - 1);
    const backoff = new Backoff();
    for (;;) {
      try {
        const ack = await js.publish(p.subjects[i] as string, data, { msgID: p.ids[i] as string, timeout: this.#publishTimeoutMs });
        if (ack.duplicate) this.#stats.duplicates++;
        else this.#stats.published++;
        if (p.acked[i] === 0) {
          p.acked[i] = 1;
          p.left--;
        }
        return;
      } catch (error) {
        if (signal.aborted) throw error;
        if (!retryable(error) || performance.now() >= deadline) throw error;
        this.#stats.retries++;
        // A timed-out publish may have been stored: it goes again with the same id.
        if ((error as Partial<NatsError>).code !== 'TIMEOUT') await sleep(backoff.next(), undefined, { signal }).catch(() => undefined);
        if (signal.aborted) throw error;
      }
    }
  }

  /** Nothing is buffered beyond a write: a resolved write was acknowledged by JetStream. */
  async flush(): Promise<void> {}

  /** Closes the connection and stops reconnecting; idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#closing.abort();
    const nc = this.#nc;
    this.#nc = undefined;
    this.#js = undefined;
    for (const wake of this.#wakeReady.splice(0)) wake();
    if (nc !== undefined && !nc.isClosed()) await nc.close().catch(() => undefined);
  }

  /** Counters for metrics; `lag_entries` is a level, the rest only grow. */
  stats(): Readonly<NatsBackendStats> {
    return { ...this.#stats, lag_entries: this.#current?.left ?? 0 };
  }

  /**
   * The counters as typed samples: `logstream_backend_lag_entries` as a gauge, the others
   * (published, duplicates, retries, reconnects) as backend events.
   */
  metrics(): readonly BackendMetric[] {
    return [
      {
        name: 'logstream_backend_lag_entries',
        help: 'Entries a backend took and its peer has not acknowledged yet (nats: not yet PubAcked by JetStream).',
        type: 'gauge',
        value: this.#current?.left ?? 0,
      },
      ...backendEventSamples(this.#stats),
    ];
  }
}
