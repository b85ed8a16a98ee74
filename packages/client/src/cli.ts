#!/usr/bin/env node
import { userInfo } from 'node:os';
import { createInterface } from 'node:readline';
import type { ErrorFrame } from '@logstream/protocol';
import { CLI_USAGE, parseCliArgs, type CliOptions } from './cli-args';
import { LogClient } from './log-client';
import { version } from '../package.json';

/** `logstream`: logger(1) for LogStream. Exit codes: 0 stored, 1 not stored, 2 usage error. */
async function main(argv: readonly string[]): Promise<number> {
  const args = parseCliArgs(argv, process.env, defaultTag());
  if (!args.ok) {
    fail(`${args.error} (see logstream --help)`);
    return 2;
  }
  if (args.action !== 'run') {
    process.stdout.write(args.action === 'help' ? CLI_USAGE : `${version}\n`);
    return 0;
  }
  return send(args.options);
}

async function send(o: CliOptions): Promise<number> {
  let client: LogClient;
  try {
    // The command reports every failure itself, one line each: no second line from the library.
    client = await LogClient.withConfig({ socketPath: o.socketPath, daemonName: o.tag, autoReconnect: false, warnings: false });
  } catch (error) {
    // The socket's error, e.g. `connect ENOENT /tmp/logstream.sock`; none when the server closed it.
    const cause = (error as Error).cause;
    fail(
      `${(error as Error).message}${cause instanceof Error ? `: ${cause.message}` : ' (it accepted a connection and closed it: too many connections, or shutting down)'}`,
    );
    return 1;
  }
  let refused = 0;
  client.on('rejected', (frame: ErrorFrame) => {
    refused++;
    fail(
      frame.code === 'RATE_LIMITED'
        ? `the server dropped entries over its rate limit: ${frame.message}`
        : `the server refused an entry: ${frame.message}`,
    );
  });
  let lost = false;
  const input = o.message === undefined ? createInterface({ input: process.stdin, crlfDelay: Infinity }) : undefined;
  // With autoReconnect off a lost connection is final: stop at once instead of waiting out a timeout.
  const disconnected = new Promise<void>((resolve) =>
    client.once('disconnect', () => {
      lost = true;
      input?.close();
      resolve();
    }),
  );

  if (input === undefined) {
    client.log(o.level, o.message, o.fields);
  } else {
    for await (const line of input) {
      if (line === '') continue;
      // Past half the client's buffer, wait for acks (backpressure).
      if (!client.log(o.level, line, o.fields)) await Promise.race([client.drain(), disconnected]);
      if (lost) break;
    }
  }
  const flushed = client.flush();
  flushed.catch(() => undefined);
  try {
    await Promise.race([flushed, disconnected]);
  } catch (error) {
    fail((error as Error).message);
    return 1;
  }
  if (lost) {
    const n = client.buffered;
    fail(`lost the connection to the LogStream server at ${o.socketPath}; ${n} entr${n === 1 ? 'y' : 'ies'} not acknowledged`);
    return 1;
  }
  await client.close();
  return refused > 0 ? 1 : 0;
}

/** The user name, else `"logstream"` (no passwd entry, e.g. in a container). */
function defaultTag(): string {
  try {
    return userInfo().username || 'logstream';
  } catch {
    return process.env.USER || process.env.LOGNAME || 'logstream';
  }
}

function fail(message: string): void {
  process.stderr.write(`logstream: ${message}\n`);
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: Error) => {
    fail(error.stack ?? error.message);
    process.exit(1);
  },
);
