#!/usr/bin/env node
import { existsSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { cac } from 'cac';
import { LogStreamError } from '@logstream/protocol';
import { applyOverrides, loadConfig, type Config, type ConfigOverrides } from './config';
import { createLogger } from './logger';
import { checkConfig, describeBackends, startServer } from './server';
import { version } from '../package.json';

/** The spec's default config path; used only when it exists. */
const DEFAULT_CONFIG_PATH = 'config/server.toml';

interface Flags {
  config?: string;
  socket?: string;
  output?: string;
  verbose?: boolean;
  journald?: boolean;
  metrics?: boolean;
  metricsPort?: number;
  validate?: boolean;
}

const cli = cac('logstream-server');
cli
  .option('-c, --config <file>', `Configuration file (default: ${DEFAULT_CONFIG_PATH} when it exists, else built-in defaults)`)
  .option('-s, --socket <path>', 'Socket path to bind to (overrides config)')
  .option('-o, --output <dir>', 'Log output directory (overrides config)')
  .option('-v, --verbose', 'Debug output on stderr (also LOGSTREAM_LOG=debug)')
  .option('--journald', 'Enable the journald backend')
  .option('--metrics', 'Enable the metrics endpoint')
  .option('--metrics-port <port>', 'Metrics port (default 9090; implies --metrics)')
  .option('--validate', 'Check the configuration, print the effective config, and exit')
  .help()
  .usage('[options]')
  .version(version, '-V, --version');

/** A mistake on the command line: exit 2, nothing started. */
class UsageError extends Error {}

const kebab = (name: string) => name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
const flag = (name: string) => (name.length === 1 ? `-${name}` : `--${kebab(name)}`);

/**
 * Rejects what cac would silently ignore: unknown options (`--socket-path`), stray arguments (a
 * config file without `-c`, anything after `--`), an option that needs a value given none
 * (`-c` last) and an option given twice.
 * @throws UsageError naming the first offender
 */
function checkUsage(args: readonly string[], options: Record<string, unknown>): void {
  const known = cli.globalCommand.options;
  for (const [name, value] of Object.entries(options)) {
    if (name === '--') continue;
    const option = known.find((o) => o.names.includes(name));
    if (option === undefined) throw new UsageError(`unknown option ${flag(name)}`);
    if (Array.isArray(value)) throw new UsageError(`option ${option.rawName.replace(/ <.*/, '')} given more than once`);
    if (option.required && typeof value !== 'string' && typeof value !== 'number') {
      throw new UsageError(`option ${option.rawName.replace(/ <.*/, '')} needs a value: ${option.rawName.replace(/^-\w, /, '')}`);
    }
  }
  const stray = [...args, ...((options['--'] as string[] | undefined) ?? [])];
  if (stray.length > 0) {
    const hint = /\.toml$/.test(stray[0] as string) ? ` (a config file goes after -c: -c ${stray[0]})` : '';
    throw new UsageError(`unexpected argument ${JSON.stringify(stray[0])}${hint}`);
  }
}

/** JSON replacer for the effective config: modes are shown in octal, as they are written. */
function showModes(key: string, value: unknown): unknown {
  return key === 'socket_mode' && typeof value === 'number' ? `0${value.toString(8)}` : value;
}

async function main(): Promise<number> {
  let parsed;
  try {
    // Checked before help and version, so `--halp` is an error rather than a start.
    parsed = cli.parse(process.argv, { run: false });
    checkUsage(parsed.args, parsed.options);
  } catch (error) {
    const message = (error as Error).message;
    process.stderr.write(`logstream-server: ${message}${message.endsWith(')') ? '' : ' (see logstream-server --help)'}\n`);
    return 2;
  }
  const options = parsed.options as Flags & { help?: boolean; version?: boolean };
  if (options.help || options.version) return 0;
  const log = createLogger(Boolean(options.verbose) || process.env.LOGSTREAM_LOG === 'debug');
  const explicit = options.config !== undefined;
  const path = options.config ?? (existsSync(DEFAULT_CONFIG_PATH) ? DEFAULT_CONFIG_PATH : undefined);
  let config: Config;
  // Applied again to the file on each reload: flags keep winning over it.
  const overrides: ConfigOverrides = {
    ...(options.socket === undefined ? {} : { socket: String(options.socket) }),
    ...(options.output === undefined ? {} : { output: String(options.output) }),
    journald: Boolean(options.journald),
    metrics: Boolean(options.metrics),
    ...(options.metricsPort === undefined ? {} : { metricsPort: Number(options.metricsPort) }),
  };
  try {
    if (
      options.metricsPort !== undefined &&
      !(Number.isInteger(Number(options.metricsPort)) && Number(options.metricsPort) >= 0 && Number(options.metricsPort) <= 65535)
    ) {
      throw new LogStreamError('config', `--metrics-port: expected a port 0-65535, got ${JSON.stringify(options.metricsPort)}`);
    }
    config = applyOverrides(await loadConfig(path, explicit), overrides);
  } catch (error) {
    process.stderr.write(`logstream-server: ${(error as Error).message}\n`);
    return 1;
  }
  if (options.validate) {
    const problems = await checkConfig(config);
    if (problems.length > 0) {
      process.stderr.write(`logstream-server: ${path ?? 'built-in defaults'}: ${problems.length} error(s)\n${problems.join('\n')}\n`);
      return 1;
    }
    process.stdout.write(`# ${path ?? 'built-in defaults'}: valid\n${JSON.stringify(config, showModes, 2)}\n`);
    return 0;
  }
  // Installed before start-up: a SIGHUP from logrotate while backends open must not kill us.
  let onHup = () => log.info('SIGHUP during start-up: the output files are being opened now; nothing to reopen');
  process.on('SIGHUP', () => onHup());
  try {
    const running = await startServer(config, log);
    log.info(
      `listening on ${config.server.socket_path} (pid ${process.pid}, config ${path ?? 'built-in defaults'}); backends: ${describeBackends(config)}${
        running.metrics
          ? `; metrics on http://${config.metrics.host}:${(running.metrics.address() as AddressInfo).port}${config.metrics.path}`
          : ''
      }`,
    );
    let reloading = Promise.resolve();
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) return;
      stopping = true;
      log.info(`${signal}: shutting down`);
      // A reload under way finishes first: its new backends are then closed like the others.
      void reloading
        .then(() => running.close())
        .then(
          () => {
            log.info('stopped');
            process.exit(0);
          },
          (error: Error) => {
            log.error(`shutdown failed: ${error.message}`);
            process.exit(1);
          },
        );
    };
    process.on('SIGTERM', () => stop('SIGTERM'));
    process.on('SIGINT', () => stop('SIGINT'));
    const reopen = () =>
      running.server.reopen().then(
        () => log.info('SIGHUP: output files reopened'),
        (error: Error) => log.error(`reopen failed: ${error.message}`),
      );
    // SIGHUP re-reads the config file (and reopens the output files); one reload at a time.
    const reload = async () => {
      if (path === undefined) {
        log.info('SIGHUP: reopening output files (no config file to reload)');
        return reopen();
      }
      log.info(`SIGHUP: reloading ${path}`);
      try {
        await running.reload(applyOverrides(await loadConfig(path, explicit), overrides));
      } catch (error) {
        log.error(`SIGHUP: ${path} not applied, the running config stays: ${(error as Error).message}`);
        return reopen();
      }
    };
    onHup = () => {
      reloading = reloading.then(reload);
    };
    return -1;
  } catch (error) {
    log.error(`cannot start: ${(error as Error).message}`);
    return 1;
  }
}

main().then(
  (code) => {
    if (code >= 0) process.exit(code);
  },
  (error: Error) => {
    process.stderr.write(`logstream-server: ${error.stack ?? error.message}\n`);
    process.exit(1);
  },
);
