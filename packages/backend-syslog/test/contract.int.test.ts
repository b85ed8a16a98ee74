import { randomUUID } from 'node:crypto';
import { createServer, type AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { EntryBatch, type LogEntry } from '@logstream/protocol';
import { SyslogBackend } from '../src/index';
import { until } from '@logstream/test-support';

const backends: SyslogBackend[] = [];
afterEach(async () => {
  await Promise.all(backends.splice(0).map((b) => b.close()));
});

/** A TCP port nobody listens on (bound, then closed): connecting to it is refused. */
async function refusedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

function batch(n: number): EntryBatch {
  const entries: LogEntry[] = [];
  for (let i = 0; i < n; i++) {
    entries.push({
      id: randomUUID(),
      timestamp: new Date().toISOString(),
      level: 6,
      daemon: 'contract',
      message: `m${i}`,
      fields: {},
      pid: 1,
      hostname: 'h',
    });
  }
  return EntryBatch.fromEntries(entries);
}

describe('SyslogBackend and the Backend contract', () => {
  it("reports refused connections to open()'s context, not as 'error'; bare, to 'error' listeners", async () => {
    const port = await refusedPort();
    const reported: Error[] = [];
    const emitted: Error[] = [];
    const withContext = new SyslogBackend({ server: `tcp://127.0.0.1:${port}`, flushTimeoutMs: 100 });
    backends.push(withContext);
    withContext.on('error', (e) => emitted.push(e));
    await withContext.open({ reportError: (e) => reported.push(e) });
    await until(() => reported.length >= 2, 20_000, 'two refused attempts reported');
    expect(reported[0]?.message).toMatch(new RegExp(`ECONNREFUSED.*127\\.0\\.0\\.1:${port}`));
    expect(emitted).toEqual([]);

    const bare = new SyslogBackend({ server: `tcp://127.0.0.1:${port}`, flushTimeoutMs: 100 });
    backends.push(bare);
    bare.on('error', (e) => emitted.push(e));
    await bare.open();
    await until(() => emitted.length >= 1, 20_000, 'a refused attempt emitted');
    expect(emitted[0]?.message).toMatch(/ECONNREFUSED/);
  });

  it('types its metrics: the buffer a gauge, drops by reason, the rest backend events', async () => {
    const port = await refusedPort();
    const backend = new SyslogBackend({ server: `tcp://127.0.0.1:${port}`, flushTimeoutMs: 100 });
    backends.push(backend);
    await backend.open({ reportError: () => {} });
    const controller = new AbortController();
    const write = backend.write(batch(7), { signal: controller.signal });
    await until(() => backend.bufferedEntries === 7, 20_000, 'seven entries buffered while the peer refuses');
    const sample = (name: string, labels?: Record<string, string>) =>
      backend.metrics().find((s) => s.name === name && JSON.stringify(s.labels ?? {}) === JSON.stringify(labels ?? {}));
    expect(sample('logstream_backend_buffered_entries')).toMatchObject({ type: 'gauge', value: 7 });
    expect(sample('logstream_backend_buffered_bytes')?.value).toBeGreaterThan(0);
    await until(
      () => (sample('logstream_backend_events_total', { event: 'connect_errors' })?.value ?? 0) >= 1,
      20_000,
      'connect errors counted',
    );
    controller.abort(new Error('given up'));
    await expect(write).rejects.toThrow('given up');
    expect(sample('logstream_dropped_entries_total', { reason: 'aborted' })).toMatchObject({ type: 'counter', value: 7 });
    expect(sample('logstream_dropped_entries_total', { reason: 'closed' })).toMatchObject({ type: 'counter', value: 0 });
    expect(sample('logstream_backend_buffered_entries')?.value).toBe(0);
    expect(backend.metrics().every((s) => s.type === 'gauge' || s.name.endsWith('_total'))).toBe(true);
  });

  it('names TLS options as this package spells them (tls.cert, tls.key) when they are wrong at open', async () => {
    const port = await refusedPort();
    const missing = new SyslogBackend({
      server: `tls://127.0.0.1:${port}`,
      tls: { cert: '/nonexistent/cert.pem', key: '/nonexistent/key.pem' },
    });
    backends.push(missing);
    // Both files are read at once: whichever fails first is named, by its own option name.
    await expect(missing.open()).rejects.toThrow(/^syslog: tls\.(cert|key) \/nonexistent\/(cert|key)\.pem: cannot read it: ENOENT$/);
    const alone = new SyslogBackend({ server: `tls://127.0.0.1:${port}`, tls: { cert: fileURLToPath(import.meta.url) } });
    backends.push(alone);
    await expect(alone.open()).rejects.toThrow(/^syslog: tls\.cert and tls\.key must be set together$/);
  });
});
