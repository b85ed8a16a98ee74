import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { decodeSyslogLine, peerScript, rawConnect, stopPeer, storedLine, tempDir, until, type TempDir } from '../src/index';

const dirs: TempDir[] = [];
const children: ChildProcess[] = [];
afterEach(async () => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  for (const d of dirs.splice(0)) await d.cleanup();
});

async function dir(): Promise<string> {
  const made = await tempDir();
  dirs.push(made);
  return made.dir;
}

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('until', () => {
  it('resolves once an async predicate holds', async () => {
    let calls = 0;
    await until(async () => ++calls >= 3, 5000, 'three calls');
    expect(calls).toBe(3);
  });

  it('rejects after the deadline, naming what it waited for', async () => {
    await expect(until(() => false, 50, 'the impossible')).rejects.toThrow('timed out after 50 ms waiting for the impossible');
  });
});

describe('tempDir', () => {
  it('makes a fresh directory with the prefix, and cleanup removes it with its content', async () => {
    const made = await tempDir('ts-test-');
    expect(made.dir).toMatch(/ts-test-\w{6}$/);
    await writeFile(join(made.dir, 'f'), 'x');
    await made.cleanup();
    expect(existsSync(made.dir)).toBe(false);
  });
});

describe('rawConnect', () => {
  it('records the lines a real socket peer sends through the parser, its highest ack, and the close', async () => {
    const path = join(await dir(), 's.sock');
    const server: Server = createServer((socket) => {
      socket.end('{"type":"ready"}\nnot json\n{"type":"ack","seq":2}\n{"type":"ack","seq":5}\n');
    });
    await new Promise<void>((resolve) => server.listen(path, resolve));
    try {
      const parse = (line: string): { type: string; seq?: number } | undefined => {
        try {
          return JSON.parse(line) as { type: string; seq?: number };
        } catch {
          return undefined;
        }
      };
      const conn = await rawConnect(path, parse);
      await conn.waitFrame((f) => f.type === 'ack' && f.seq === 5, 10_000);
      expect(conn.frames.map((f) => f.type)).toEqual(['ready', 'ack', 'ack']);
      expect(conn.acked()).toBe(5);
      expect(conn.text()).toContain('not json');
      await until(() => conn.closed, 10_000, 'the close');
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
});

describe('stop-peer.sh', () => {
  async function sleeper(marker: string | undefined): Promise<number> {
    const child = spawn('sleep', ['60'], { env: { ...process.env, ...(marker !== undefined && { LOGSTREAM_PEER_BASE: marker }) } });
    children.push(child);
    await until(() => child.pid !== undefined && alive(child.pid), 10_000, 'sleep to start');
    return child.pid as number;
  }

  it('stops a process of the named program that carries the peer marker, and removes its marked dir', async () => {
    const base = join(await dir(), 'peer');
    await mkdir(base);
    await writeFile(join(base, '.logstream-peer'), '');
    const pid = await sleeper(base);
    await stopPeer('sleep', [pid], base);
    await until(() => children[0]?.exitCode !== null || children[0]?.signalCode !== null, 10_000, 'the peer to exit');
    expect(children[0]?.signalCode).toBe('SIGTERM');
    expect(existsSync(base)).toBe(false);
  });

  it('kills nothing without the marker or with another name, and keeps a dir without the marker file', async () => {
    const base = await dir();
    const unmarked = await sleeper(undefined);
    const marked = await sleeper(base);
    await stopPeer('sleep', [unmarked], base);
    await stopPeer('rsyslogd', [marked], base);
    expect(alive(unmarked) && alive(marked)).toBe(true);
    expect(existsSync(base)).toBe(true);
  });

  it('refuses a PID that is not a number', async () => {
    await expect(stopPeer('sleep', [Number.NaN], '')).rejects.toThrow(/usage: stop-peer.sh/);
    expect(peerScript('stop-peer.sh')).toMatch(/test-support\/peers\/stop-peer\.sh$/);
  });
});

describe('decodeSyslogLine', () => {
  it('turns each #ooo back into its byte and keeps other text', () => {
    expect(decodeSyslogLine('a#012b #33 #342#200#256')).toBe('a\nb #33 \u202e');
  });
});

describe('storedLine', () => {
  it("pairs each entry with a line that parses back to it, in the encoder's layout or another", () => {
    const layouts = new Set<string>();
    fc.assert(
      fc.property(storedLine(JSON.stringify), ({ entry, line }) => {
        const text = line.toString('utf8');
        expect(JSON.parse(text)).toEqual(entry);
        expect(text).not.toContain('\n');
        layouts.add(text === JSON.stringify(entry) ? 'encoded' : 'other');
      }),
      { numRuns: 300 },
    );
    expect([...layouts].sort()).toEqual(['encoded', 'other']);
  });
});
