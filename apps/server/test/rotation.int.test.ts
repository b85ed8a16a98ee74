import { execFile } from 'node:child_process';
import { readdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { LogClient } from '@logstream/client';
import { readEntries, rotatingFileToml, startServer, until, useServerDir, type ServerProcess } from '@logstream/test-support';

// The server with rotation and compression on: every acknowledged entry is in exactly one of
// the archives (opened with the real zcat / lz4 tools) or the live file, whatever the rotations.
const execFileP = promisify(execFile);
const ARCHIVE = /^current-\d{8}T\d{6}\.\d{3}Z-\d{6,}\.log(\.gz|\.lz4)?$/;

let dir: string;
let server: ServerProcess | undefined;
let sock: string;
let out: string;
useServerDir((paths) => ({ dir, sock, out } = paths));

async function writeConfig(compression: 'none' | 'gzip' | 'lz4', maxFileSize: number): Promise<string> {
  const path = join(dir, 'c.toml');
  await writeFile(path, rotatingFileToml({ socketPath: sock, outputDirectory: out, compression, maxFileSize }));
  return path;
}

async function archiveNames(): Promise<string[]> {
  return (await readdir(out)).filter((n) => ARCHIVE.test(n)).sort();
}

/** Every entry in the output directory: archives in name order, then current.log. */
async function readEverything(): Promise<Record<string, unknown>[]> {
  let text = '';
  for (const name of await archiveNames()) {
    const path = join(out, name);
    if (name.endsWith('.gz')) text += (await execFileP('zcat', [path], { maxBuffer: 1 << 28 })).stdout;
    else if (name.endsWith('.lz4')) text += (await execFileP('lz4', ['-dc', path], { maxBuffer: 1 << 28 })).stdout;
    else text += await readFile(path, 'utf8');
  }
  const entries = text
    .split('\n')
    .filter((l) => l.length > 0)
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  return [...entries, ...(await readEntries(join(out, 'current.log')))];
}

/** `clients` clients send `perClient` entries each, waiting for acks every `flushEvery` entries. */
async function send(clients: number, perClient: number, tag: string, flushEvery = perClient): Promise<void> {
  await Promise.all(
    Array.from({ length: clients }, async (_, c) => {
      const client = await LogClient.connect(sock, `daemon-${c}`);
      for (let i = 0; i < perClient; i++) {
        if (!client.info(`${tag} ${c}/${i}`, { client: String(c), i: String(i), tag })) await client.drain();
        // The server writes what arrives together as one batch: waiting for acks now and then
        // makes many small batches, hence many rotations.
        if ((i + 1) % flushEvery === 0) await client.flush();
      }
      await client.flush();
      await client.close();
    }),
  );
}

describe.each(['gzip', 'lz4'] as const)('rotation with %s compression', (compression) => {
  it('keeps every acknowledged entry exactly once across many rotations', async () => {
    const config = await writeConfig(compression, 4096);
    server = await startServer(['-c', config]);
    const clients = 4;
    const perClient = 500;
    await send(clients, perClient, 'a', 5);
    expect((await server.stop('SIGTERM')).code).toBe(0);

    // Shutdown leaves rotated files that were still waiting for compression uncompressed; the
    // next start compresses them.
    server = await startServer(['-c', config]);
    await until(
      async () => (await archiveNames()).every((n) => n.endsWith(compression === 'gzip' ? '.gz' : '.lz4')),
      30_000,
      'archives compressed',
    );
    expect((await server.stop('SIGTERM')).code).toBe(0);
    server = undefined;

    const names = await archiveNames();
    expect(names.length).toBeGreaterThan(50);
    expect((await readdir(out)).filter((n) => n.endsWith('.tmp') || n.startsWith('.'))).toEqual([]);
    const tester = compression === 'gzip' ? ['gzip', '-t'] : ['lz4', '-tm'];
    await execFileP(tester[0] as string, [tester[1] as string, ...names.map((n) => join(out, n))]);

    const entries = await readEverything();
    expect(entries).toHaveLength(clients * perClient);
    expect(new Set(entries.map((e) => e.id)).size).toBe(clients * perClient);
    expect(new Set(entries.map((e) => e.message)).size).toBe(clients * perClient);
    // Archives are in rotation order: each client's entries come out in the order sent.
    const next = new Map<string, number>();
    for (const e of entries) {
      const f = e.fields as Record<string, string>;
      expect(Number(f.i)).toBe(next.get(f.client as string) ?? 0);
      next.set(f.client as string, Number(f.i) + 1);
    }
  });
});

describe('SIGHUP', () => {
  it('reopens current.log after an external rename; new entries land in the new file, none lost', async () => {
    const config = await writeConfig('none', 104857600);
    server = await startServer(['-c', config]);
    await send(2, 100, 'before');
    await rename(join(out, 'current.log'), join(out, 'current.log.1'));
    const reopened = server.stderr().split('output files reopened').length;
    server.proc.kill('SIGHUP');
    await until(() => server?.stderr().split('output files reopened').length === reopened + 1, 15_000, 'reopen log line');
    await send(2, 100, 'after');
    expect((await server.stop('SIGTERM')).code).toBe(0);
    server = undefined;

    const old = await readEntries(join(out, 'current.log.1'));
    const fresh = await readEntries(join(out, 'current.log'));
    expect(old).toHaveLength(200);
    expect(old.every((e) => (e.fields as Record<string, string>).tag === 'before')).toBe(true);
    expect(fresh).toHaveLength(200);
    expect(fresh.every((e) => (e.fields as Record<string, string>).tag === 'after')).toBe(true);
    expect(new Set([...old, ...fresh].map((e) => e.id)).size).toBe(400);
  });
});
