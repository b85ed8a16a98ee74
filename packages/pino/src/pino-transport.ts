import { basename, extname } from 'node:path';
import build from 'pino-abstract-transport';
import { LogClient, type ClientConfig, type LogLevel } from '@logstream/client';

/** Options of the transport: the client's configuration, with `daemonName` optional. */
export interface PinoTransportOptions extends Omit<ClientConfig, 'daemonName'> {
  /** Daemon name of the entries. Default: the main script's name without extension (`node` if none). */
  daemonName?: string;
  /** The key of the message in pino's lines. Default: what pino says (its `messageKey`), else `msg`. */
  messageKey?: string;
}

/**
 * A pino level as a LogStream level: 10 (trace) and 20 (debug) → 7, 30 (info) → 6, 40 (warn) → 4,
 * 50 (error) → 3, 60 (fatal) → 2; a custom number goes with the next standard level below it
 * (35 → 6), a label (`formatters.level`) by its name.
 */
export function pinoLevelToLogLevel(level: unknown): LogLevel {
  if (typeof level === 'number') {
    if (level >= 60) return 2;
    if (level >= 50) return 3;
    if (level >= 40) return 4;
    if (level >= 30) return 6;
    return 7;
  }
  switch (level) {
    case 'fatal':
      return 2;
    case 'error':
      return 3;
    case 'warn':
      return 4;
    case 'trace':
    case 'debug':
      return 7;
    default:
      return 6;
  }
}

/** The default daemon name: the main script's base name, without its extension. */
function defaultDaemonName(): string {
  const main = process.argv[1];
  const name = main === undefined ? '' : basename(main, extname(main));
  return /^[\w.-]{1,255}$/.test(name) ? name : 'node';
}

/**
 * The pino transport (`pino({ transport: { target: '@logstream/pino', options } })`): runs in
 * pino's worker thread and logs every line through one LogClient. `msg` becomes the message,
 * `time`, `pid` and `hostname` the entry's own; every other key (bindings, `err`) a field,
 * flattened as the client does. When pino ends the stream (the app exits, `process.exit()`
 * included: pino waits for its worker), the client flushes within its `timeout`.
 */
export async function logstreamTransport(options: PinoTransportOptions = {}) {
  const { messageKey, daemonName, ...config } = options;
  const client = await LogClient.withConfig({ ...config, daemonName: daemonName ?? defaultDaemonName() });
  return build(
    async (source) => {
      const key = messageKey ?? (source as unknown as { messageKey?: string }).messageKey ?? 'msg';
      for await (const line of source as AsyncIterable<Record<string, unknown>>) {
        const { level, time, pid, hostname, [key]: message, ...fields } = line;
        const ok = client.logEntry({
          level: pinoLevelToLogLevel(level),
          message: typeof message === 'string' ? message : message === undefined ? '' : JSON.stringify(message),
          fields,
          timestamp: typeof time === 'number' && time < 1e11 ? time * 1000 : (time as number | string | undefined),
          pid: pid as number | undefined,
          hostname: hostname as string | undefined,
        });
        if (!ok) await client.drain();
      }
    },
    {
      expectPinoConfig: true,
      close: async () => {
        await client.close();
      },
    },
  );
}
