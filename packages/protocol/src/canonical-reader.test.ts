import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { storedEntry } from '@logstream/test-support';
import { encodeEntry } from './canonical-line';
import { EntryView } from './canonical-reader';
import type { LogEntry } from './entry';

/** What a view read from a line says, decoded. */
function seen(view: EntryView): unknown {
  const fields: [string, string][] = [];
  const f = view.fields();
  while (f.next()) fields.push([view.text(f.key), view.text(f.text)]);
  const span = (s: { start: number; end: number } | null) => (s === null ? null : view.line.toString('utf8', s.start, s.end));
  return {
    id: view.text(view.id),
    timestamp: view.text(view.timestamp),
    level: view.level,
    daemon: view.text(view.daemon),
    message: view.text(view.message),
    fields,
    pid: view.pid,
    hostname: view.hostname === null ? null : view.text(view.hostname),
    peer: view.peer,
    peerIds: view.peer === 'known' ? [view.peerPid, view.peerUid, view.peerGid] : [],
    peerNames: [span(view.peerComm), span(view.peerExe), span(view.peerUnit)],
  };
}

describe('EntryView', () => {
  it('reads a canonical line by its layout exactly as it reads the same entry in any other key order', () => {
    const view = new EntryView();
    fc.assert(
      fc.property(storedEntry, (entry: LogEntry) => {
        const canonical = Buffer.from(encodeEntry(entry));
        const reordered = Buffer.from(JSON.stringify(Object.fromEntries(Object.entries(entry).reverse())));
        expect(view.read(reordered)).toBe(true);
        const expected = seen(view);
        expect(view.read(canonical)).toBe(true);
        expect(seen(view)).toEqual(expected);
        expect(view.text(view.message)).toBe(entry.message);
        expect(view.pid).toBe(entry.pid);
      }),
      { numRuns: 500 },
    );
  });

  it('reads the same peer again from its bytes wherever it lies in the line, and a new peer anew', () => {
    const view = new EntryView();
    const fresh = new EntryView();
    fc.assert(
      fc.property(
        fc.array(fc.tuple(storedEntry, fc.integer({ min: 0, max: 2 })), { minLength: 1, maxLength: 12 }),
        storedEntry,
        (rows, other) => {
          // Three peers (one of them absent or null as the arbitrary says) shared by many entries.
          const peers = [other.peer, rows[0]?.[0].peer, { pid: 7, uid: 0, gid: 0, comm: 'a"b', exe: '/x' }];
          for (const [entry, which] of rows) {
            const line = Buffer.from(encodeEntry({ ...entry, peer: peers[which] }));
            expect(view.read(line)).toBe(true);
            expect(fresh.read(Buffer.from(`${line.toString()} `))).toBe(true); // the key-by-key path
            expect(seen(view)).toEqual(seen(fresh));
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('refuses a line that lacks a member an entry must have, in the canonical order or not', () => {
    const view = new EntryView();
    const line = encodeEntry({
      id: 'a',
      timestamp: '2026-01-01T00:00:00.000Z',
      level: 6,
      daemon: 'd',
      message: 'm',
      fields: { k: 'v' },
      pid: 1,
      hostname: 'h',
    });
    expect(view.read(Buffer.from(line))).toBe(true);
    expect(view.read(Buffer.from(line.replace(',"pid":1', '')))).toBe(false);
    expect(view.read(Buffer.from(line.replace('"level":6', '"level":9')))).toBe(false);
    expect(view.read(Buffer.from(`${line.slice(0, -1)},"extra":1}`))).toBe(true);
  });
});
