#!/usr/bin/env node
import { runQueryCli } from './run-query-cli';

const abort = new AbortController();
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => abort.abort());
process.exitCode = await runQueryCli(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
  signal: abort.signal,
});
