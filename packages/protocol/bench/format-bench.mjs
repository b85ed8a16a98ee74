// Formatting cost per entry of each non-JSON output, old object path (JSON.parse per entry, then
// the string formatter, then UTF-8 encoding) against the byte path (each line's bytes into one
// buffer per batch). Needs the packages built (`pnpm build`). Prints ns/entry, median of rounds.
//
//   node packages/protocol/bench/format-bench.mjs [rounds=7] [entries=20000]
//
// Not a test and never run by one: timings on a shared machine are noisy; compare the two paths
// of the same run, not runs of different days.
import { ByteSink, EntryBatch, SyslogWriter, encodeEntry, formatSyslog, formatSyslogLine } from '../dist/index.js';
import { HumanWriter, formatHuman } from '../../backend-file/dist/index.js';
import { JournalEntryWriter, encodeJournalEntry } from '../../backend-journald/dist/index.js';
import { FrameWriter, frameMessage } from '../../backend-syslog/dist/index.js';

const rounds = Number(process.argv[2] ?? 7);
const count = Number(process.argv[3] ?? 20000);

function lines(lineBytes, withPeer) {
  const out = [];
  const base = {
    id: '',
    timestamp: '',
    level: 6,
    daemon: 'bench-daemon',
    message: '',
    fields: { seq: '', conn: '3' },
    pid: 4242,
    hostname: 'bench-host',
    peer: withPeer ? { pid: 4242, uid: 1000, gid: 1000, comm: 'bench', exe: '/usr/local/bin/bench', unit: 'bench.service' } : undefined,
  };
  const fixed = Buffer.byteLength(
    encodeEntry({ ...base, id: '00000000-0000-4000-8000-000000000000', timestamp: new Date(0).toISOString() }),
  );
  const text = 'request handled for user 12345 in 3 ms; '.repeat(40).slice(0, Math.max(1, lineBytes - fixed - 6));
  for (let i = 0; i < count; i++) {
    const e = {
      ...base,
      id: `0a1b2c3d-0003-4${(i % 4096).toString(16).padStart(3, '0')}-8abc-${i.toString(16).padStart(12, '0')}`,
      timestamp: new Date(1_700_000_000_000 + Math.floor(i / 50)).toISOString(),
      level: i % 8,
      message: text,
      fields: { seq: String(i), conn: '3' },
    };
    out.push(Buffer.from(encodeEntry(e)));
  }
  return out;
}

const BATCH = 256;
function batches(all) {
  const out = [];
  for (let i = 0; i < all.length; i += BATCH) out.push(all.slice(i, i + BATCH));
  return out;
}

// Each case formats every batch once and returns a checksum, so nothing is optimised away.
const cases = {
  'human file': {
    old: (bs) =>
      sum(bs, (ls) =>
        Buffer.from(
          new EntryBatch(ls, [])
            .entries()
            .map((e) => `${formatHuman(e)}\n`)
            .join(''),
        ),
      ),
    bytes: (bs) => {
      const w = new HumanWriter();
      return sum(bs, (ls) => perLine(ls, (l, s) => (w.writeLine(l, s), s.byte(10))));
    },
  },
  'syslog file (5424)': {
    old: (bs) =>
      sum(bs, (ls) =>
        Buffer.from(
          new EntryBatch(ls, [])
            .entries()
            .map((e) => `${formatSyslogLine(e, 'rfc5424')}\n`)
            .join(''),
        ),
      ),
    bytes: (bs) => {
      const w = new SyslogWriter('rfc5424', undefined, 'file');
      return sum(bs, (ls) => perLine(ls, (l, s) => (w.writeLine(l, s), s.byte(10))));
    },
  },
  'syslog tcp (5424, octet-counting)': {
    old: (bs) =>
      sum(bs, (ls) => {
        let n = 0;
        for (const e of new EntryBatch(ls, []).entries())
          n += frameMessage(formatSyslog(e, 'rfc5424', {}), 'octet-counting', 65536).frame.length;
        return { length: n };
      }),
    bytes: (bs) => {
      const w = new FrameWriter('rfc5424', {}, 'octet-counting', 65536);
      return sum(bs, (ls) => {
        const sink = new ByteSink(256 * ls.length);
        let n = 0;
        for (const l of ls) n += w.write(l, sink).frame.length;
        return { length: n };
      });
    },
  },
  'syslog unix (3164)': {
    old: (bs) =>
      sum(bs, (ls) => {
        let n = 0;
        for (const e of new EntryBatch(ls, []).entries())
          n += frameMessage(formatSyslog(e, 'rfc3164', { omitHostname: true }), 'none', 8192).frame.length;
        return { length: n };
      }),
    bytes: (bs) => {
      const w = new FrameWriter('rfc3164', { omitHostname: true }, 'none', 8192);
      return sum(bs, (ls) => {
        const sink = new ByteSink(256 * ls.length);
        let n = 0;
        for (const l of ls) n += w.write(l, sink).frame.length;
        return { length: n };
      });
    },
  },
  journald: {
    old: (bs) =>
      sum(bs, (ls) => {
        let n = 0;
        for (const e of new EntryBatch(ls, []).entries()) n += encodeJournalEntry(e).data.length;
        return { length: n };
      }),
    bytes: (bs) => {
      const w = new JournalEntryWriter();
      return sum(bs, (ls) => {
        const sink = new ByteSink(256 * ls.length);
        let n = 0;
        for (const l of ls) n += w.write(l, sink).data.length;
        return { length: n };
      });
    },
  },
};

function perLine(ls, write) {
  let bytes = 0;
  for (const l of ls) bytes += l.length;
  const sink = new ByteSink(bytes + 64 * ls.length);
  for (const l of ls) write(l, sink);
  return sink.bytes();
}

function sum(bs, f) {
  let n = 0;
  for (const b of bs) n += f(b).length;
  return n;
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

console.log(
  `node ${process.version}, ${count} entries a size, batches of ${BATCH}, ${rounds} rounds (medians); load ${(await import('node:os'))
    .loadavg()
    .map((x) => x.toFixed(2))
    .join(' ')}`,
);
console.log('| format | line bytes (peer) | object path ns/entry | byte path ns/entry | speed-up |');
console.log('| --- | --- | --- | --- | --- |');
// ~200 B like the ingest bench's canonical lines (no peer), and ~1 KB with the peer the server adds.
for (const [size, withPeer] of [
  [200, false],
  [1024, true],
]) {
  const bs = batches(lines(size, withPeer));
  const lineBytes = Math.round(bs.flat().reduce((n, l) => n + l.length, 0) / count);
  for (const [name, c] of Object.entries(cases)) {
    const times = { old: [], bytes: [] };
    // Interleaved, after a warm-up round of each.
    for (let r = -1; r < rounds; r++) {
      for (const path of ['old', 'bytes']) {
        const t0 = process.hrtime.bigint();
        c[path](bs);
        const ns = Number(process.hrtime.bigint() - t0) / count;
        if (r >= 0) times[path].push(ns);
      }
    }
    const o = median(times.old);
    const b = median(times.bytes);
    console.log(`| ${name} | ${lineBytes}${withPeer ? ' (peer)' : ''} | ${o.toFixed(0)} | ${b.toFixed(0)} | ${(o / b).toFixed(2)}× |`);
  }
}
