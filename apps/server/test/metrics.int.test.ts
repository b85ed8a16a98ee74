import { describe, expect, it } from 'vitest';
import { readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { LogClient } from '@logstream/client';
import { parseServerFrame } from '@logstream/protocol';
import { metric, parseMetrics, startServer, until, useRawConnections, useServerDir } from '@logstream/test-support';

let dir: string;
let sock: string;
let out: string;

useServerDir((paths) => ({ dir, sock, out } = paths));

/** Raw connections that collect what the server sends (destroyed after each test). */
const raw = useRawConnections(() => sock, parseServerFrame);

describe('metrics', () => {
  it('counts a known workload exactly, per backend too, and answers 404 elsewhere', async () => {
    const config = join(dir, 'm.toml');
    await writeFile(
      config,
      [
        '[server]',
        `socket_path = "${sock}"`,
        'max_connections = 2',
        '[storage]',
        `output_directory = "${out}"`,
        'max_file_size = 1024',
        '[storage.rotation]',
        'keep_files = 1000',
        '[backends.file]',
        'compression = true',
        'compression_algorithm = "gzip"',
        '[metrics]',
        'enabled = true',
        'port = 0',
      ].join('\n'),
    );
    const server = await startServer(['-c', config]);
    const base = /metrics on (http:\/\/127\.0\.0\.1:\d+)\/metrics/.exec(server.stderr())?.[1];
    expect(base).toBeDefined();

    // N good entries, one batch each (flush waits for the ack), so rotations are real but few.
    const N = 20;
    const client = await LogClient.withConfig({ socketPath: sock, daemonName: 'metrics-test', autoReconnect: false });
    for (let i = 0; i < N; i++) {
      client.info(`entry ${String(i).padStart(3, '0')} ${'x'.repeat(100)}`, { i: String(i) });
      await client.flush();
    }

    // M bad lines on a second connection: each one answered with an error, all acknowledged.
    const bad = await raw();
    bad.socket.write('raw-sender\n');
    await until(() => bad.text().includes('"ready"'), 15_000, 'ready');
    bad.socket.write('not json\n{"message":1}\n{"message":"x","level":9}\n');
    await until(() => bad.text().includes('"type":"ack","seq":3'), 15_000, 'ack of the bad lines');
    const M = 3;
    expect(bad.text().match(/"type":"error"/g)).toHaveLength(M);

    // A third connection is one too many (max_connections = 2).
    const refused = await raw();
    await until(() => refused.closed, 15_000, 'the refused connection to close');
    expect(refused.text()).toContain('TOO_MANY_CONNECTIONS');

    // Rotated files are compressed in the background: wait until every archive is a .gz.
    const archives = async () => (await readdir(out)).filter((f) => f !== 'current.log');
    await until(async () => (await archives()).every((f) => f.endsWith('.log.gz')), 15_000, 'compression');
    const rotated = (await archives()).length;
    expect(rotated).toBeGreaterThan(0);

    const res = await fetch(`${base}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/plain');
    const m = parseMetrics(await res.text());
    expect(metric(m, 'logstream_connections_total')).toBe(3);
    expect(metric(m, 'logstream_connections_rejected_total')).toBe(1);
    expect(metric(m, 'logstream_active_connections')).toBe(2);
    expect(metric(m, 'logstream_messages_received_total')).toBe(N + M);
    expect(metric(m, 'logstream_messages_processed_total')).toBe(N);
    expect(metric(m, 'logstream_errors_total', { kind: 'serde' })).toBe(M);
    expect(metric(m, 'logstream_errors_total', { kind: 'server' })).toBe(1);
    for (const kind of ['io', 'config', 'client', 'connection']) expect(metric(m, 'logstream_errors_total', { kind })).toBe(0);
    expect(metric(m, 'logstream_duplicates_dropped_total')).toBe(0);
    expect(metric(m, 'logstream_inflight_bytes')).toBe(0);

    const file = { backend: 'file' };
    expect(metric(m, 'logstream_backend_entries_written_total', file)).toBe(N);
    expect(metric(m, 'logstream_backend_write_errors_total', file)).toBe(0);
    expect(metric(m, 'logstream_backend_queued_bytes', file)).toBe(0);
    // One batch per entry; the bad lines make no backend write.
    expect(metric(m, 'logstream_backend_write_seconds_count', file)).toBe(N);
    expect(metric(m, 'logstream_backend_write_seconds_bucket', { ...file, le: '+Inf' })).toBe(N);
    expect(metric(m, 'logstream_backend_write_seconds_sum', file)).toBeGreaterThan(0);
    // Bytes written = what is on disk: the compressed archives' input plus the live file.
    const live = (await stat(join(out, 'current.log'))).size;
    const bytes = metric(m, 'logstream_backend_bytes_written_total', file);
    expect(metric(m, 'logstream_live_file_bytes', file)).toBe(live);
    expect(metric(m, 'logstream_compressed_bytes_in_total', file) + live).toBe(bytes);
    expect(metric(m, 'logstream_backend_events_total', { ...file, event: 'bytes_written' })).toBe(bytes);
    expect(metric(m, 'logstream_backend_events_total', { ...file, event: 'writes' })).toBe(N);
    expect(metric(m, 'logstream_compressed_bytes_out_total', file)).toBeGreaterThan(0);
    expect(metric(m, 'logstream_rotations_total', file)).toBe(rotated);
    expect(metric(m, 'logstream_compressions_total', file)).toBe(rotated);
    expect(metric(m, 'logstream_compression_seconds_total', file)).toBeGreaterThan(0);
    expect(metric(m, 'logstream_compression_seconds_total', file)).toBeLessThan(60);
    for (const name of [
      'logstream_rotation_errors_total',
      'logstream_compression_errors_total',
      'logstream_files_deleted_total',
      'logstream_file_delete_errors_total',
    ]) {
      expect(metric(m, name, file)).toBe(0);
    }
    expect(metric(m, 'logstream_dropped_entries_total', { ...file, reason: 'queue_full' })).toBe(0);
    expect(metric(m, 'logstream_dropped_entries_total', { ...file, reason: 'shutdown' })).toBe(0);
    // Node's default process metrics.
    expect(metric(m, 'process_resident_memory_bytes')).toBeGreaterThan(0);
    expect(m.some((s) => s.name === 'nodejs_eventloop_lag_seconds')).toBe(true);

    // Totals survive a second scrape unchanged (they are read, not accumulated, at scrape time).
    const again = parseMetrics(await (await fetch(`${base}/metrics`)).text());
    expect(metric(again, 'logstream_messages_received_total')).toBe(N + M);
    expect(metric(again, 'logstream_errors_total', { kind: 'serde' })).toBe(M);

    expect((await fetch(`${base}/other`)).status).toBe(404);
    expect((await fetch(`${base}/metrics`, { method: 'POST' })).status).toBe(404);

    await client.close();
    bad.socket.end();
    const stopped = await server.stop('SIGTERM');
    expect(stopped.code).toBe(0);
  });

  it('reports a metrics port that is taken as a one-line start-up error', async () => {
    const { createServer } = await import('node:net');
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', () => resolve()));
    const port = (taken.address() as { port: number }).port;
    try {
      await expect(startServer(['-s', sock, '-o', out, '--metrics-port', String(port)])).rejects.toThrow(
        new RegExp(`ERROR logstream-server: cannot start: metrics: cannot listen on 127\\.0\\.0\\.1:${port}: .*EADDRINUSE`),
      );
      // The server closed its socket again before exiting.
      await expect(stat(sock)).rejects.toMatchObject({ code: 'ENOENT' });
    } finally {
      taken.close();
    }
  });
});
