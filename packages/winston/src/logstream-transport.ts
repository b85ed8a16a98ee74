import TransportStream from 'winston-transport';
import { LogClient, type ClientConfig, type LogLevel } from '@logstream/client';

/** winston's npm, syslog and cli level names as LogStream levels. */
export const WINSTON_LEVELS: Readonly<Record<string, LogLevel>> = {
  // syslog (winston.config.syslog.levels)
  emerg: 0,
  alert: 1,
  crit: 2,
  error: 3,
  warning: 4,
  notice: 5,
  info: 6,
  debug: 7,
  // npm (the default) and cli
  warn: 4,
  http: 6,
  help: 6,
  data: 6,
  prompt: 6,
  input: 6,
  verbose: 7,
  silly: 7,
};

/** Options: winston's transport options plus the client's configuration. */
export interface LogStreamTransportOptions extends TransportStream.TransportStreamOptions, Omit<ClientConfig, 'daemonName'> {
  /** Daemon name of the entries. Default: the main script's name without extension (`node` if none). */
  daemonName?: string;
  /** More level names (custom levels) and the LogStream level of each; unknown names log at 6 (info). */
  levelMap?: Readonly<Record<string, LogLevel>>;
}

const LEVEL = Symbol.for('level');

function defaultDaemonName(): string {
  const main = process.argv[1] ?? '';
  const name = (main.split('/').pop() ?? '').replace(/\.[^.]*$/, '');
  return /^[\w.-]{1,255}$/.test(name) ? name : 'node';
}

/**
 * A winston transport that logs through one LogClient: `new LogStreamTransport({ socketPath,
 * daemonName })`. Maps both the npm and the syslog level sets; `message` is the message, every
 * other key of the info object a field (flattened as the client does; a `stack`, as
 * `format.errors({ stack: true })` adds, becomes `err.type`/`err.message`/`err.stack`).
 * `close()` (which `logger.close()` calls) flushes within the client's timeout, then closes.
 */
export class LogStreamTransport extends TransportStream {
  /** The client entries go through (its stats, events, flush()). */
  readonly client: LogClient;
  readonly #levels: Readonly<Record<string, LogLevel>>;
  #closing: Promise<void> | undefined;

  constructor(options: LogStreamTransportOptions = {}) {
    const {
      socketPath,
      daemonName,
      minLevel,
      timeout,
      autoReconnect,
      bufferSize,
      whenFull,
      warnings,
      redact,
      levelMap,
      ...winstonOptions
    } = options;
    super(winstonOptions);
    const config: ClientConfig = { daemonName: daemonName ?? defaultDaemonName() };
    if (socketPath !== undefined) config.socketPath = socketPath;
    if (minLevel !== undefined) config.minLevel = minLevel;
    if (timeout !== undefined) config.timeout = timeout;
    if (autoReconnect !== undefined) config.autoReconnect = autoReconnect;
    if (bufferSize !== undefined) config.bufferSize = bufferSize;
    if (whenFull !== undefined) config.whenFull = whenFull;
    if (warnings !== undefined) config.warnings = warnings;
    if (redact !== undefined) config.redact = redact;
    this.client = LogClient.create(config);
    this.#levels = { ...WINSTON_LEVELS, ...levelMap };
  }

  /** Called by winston for each entry. */
  override log(info: Record<string | symbol, unknown>, next: () => void): void {
    const name = info[LEVEL] ?? info.level;
    const level = (typeof name === 'string' ? this.#levels[name] : undefined) ?? 6;
    const fields: Record<string, unknown> = {};
    for (const key of Object.keys(info)) {
      if (key !== 'level' && key !== 'message' && key !== 'stack') fields[key] = info[key];
    }
    const message = typeof info.message === 'string' ? info.message : info.message === undefined ? '' : JSON.stringify(info.message);
    if (typeof info.stack === 'string') {
      fields['err.type'] = typeof info.name === 'string' ? info.name : 'Error';
      fields['err.message'] = message;
      fields['err.stack'] = info.stack;
    }
    const ok = this.client.log(level, message, fields);
    setImmediate(() => this.emit('logged', info));
    if (ok) next();
    else void this.client.drain().then(next);
  }

  /**
   * Flushes what is buffered (within the client's timeout), then closes the client. Idempotent.
   * The promise never rejects, so winston, which calls close() and ignores what it returns, loses
   * nothing by ignoring it; an application may await it.
   */
  // eslint-disable-next-line @typescript-eslint/no-misused-promises -- never rejects (see above)
  override close(): Promise<void> {
    this.#closing ??= this.client.close().then(() => {
      this.emit('closed');
    });
    return this.#closing;
  }

  /** Resolves when the server has acknowledged every entry logged so far. */
  flush(): Promise<void> {
    return this.client.flush();
  }

  override _final(callback: (error?: Error | null) => void): void {
    // logger.end(): 'finish' only once what was logged is stored (or the timeout passed).
    this.client.flush().then(
      () => callback(),
      () => callback(),
    );
  }
}
