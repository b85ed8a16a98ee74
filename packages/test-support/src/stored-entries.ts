// fast-check arbitraries of stored entries for the byte-path property tests of every output
// format (protocol's syslog writer, the file backend's human format, journald's encoder, the
// syslog backend's frames): the characters that must be escaped somewhere, unicode, long
// values, null pid/hostname, and `peer` absent, null or known.
import fc from 'fast-check';
import { HOSTILE_PIECES, type SampleEntry } from './hostile-text';

/** Strings mixing {@link HOSTILE_PIECES} with any code unit and plain ASCII. */
function nastyString(maxLength = 30): fc.Arbitrary<string> {
  return fc.string({
    unit: fc.oneof(
      { weight: 3, arbitrary: fc.constantFrom(...HOSTILE_PIECES) },
      { weight: 1, arbitrary: fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }) },
      { weight: 4, arbitrary: fc.string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 4 }) },
    ),
    maxLength,
  });
}

/** Names as the schema allows them (1..max characters without C0 controls or DEL). */
const name = (max: number): fc.Arbitrary<string> =>
  fc.oneof(
    fc.constantFrom('web-server', 'a', 'sshd[1]: Accepted', 'x'.repeat(max), 'Zürich', 'host#123', 'a b', 'p]q'),
    // eslint-disable-next-line no-control-regex
    nastyString(40).filter((s) => s.length > 0 && s.length <= max && !/[\u0000-\u001f\u007f]/.test(s)),
  );

const TIMESTAMPS = [
  '2024-01-15T10:30:45.123Z',
  '2024-01-15T10:30:45.999Z',
  '2024-07-01T00:00:00.000Z',
  '2016-12-31T23:59:60.500Z',
  '2024-01-15t10:30:45z',
  '2024-01-15T10:30:45.1+02:00',
  '2024-01-15T10:30:45.123456789-05:30',
  '2024-01-15T10:30:45Z',
];

const peer = fc.oneof(
  fc.constant(undefined),
  fc.constant(null),
  fc.record(
    {
      pid: fc.integer({ min: 1, max: 4194304 }),
      uid: fc.integer({ min: 0, max: 4294967295 }),
      gid: fc.integer({ min: 0, max: 4294967295 }),
      comm: nastyString(15),
      exe: fc.oneof(fc.constant('/usr/bin/node'), nastyString(40)),
      unit: fc.oneof(fc.constant('web.service'), nastyString(20)),
    },
    { requiredKeys: ['pid', 'uid', 'gid'] },
  ),
);

/** A stored entry, with `peer` left out when the arbitrary says absent. */
export const storedEntry = fc
  .record({
    id: fc.oneof(fc.uuid(), name(128)),
    timestamp: fc.constantFrom(...TIMESTAMPS),
    level: fc.integer({ min: 0, max: 7 }) as fc.Arbitrary<SampleEntry['level']>,
    daemon: name(255),
    message: fc.oneof(nastyString(60), fc.constant(''), fc.string({ minLength: 300, maxLength: 3000 })),
    fields: fc.dictionary(fc.oneof(name(40), fc.constant('x'.repeat(60))), fc.oneof(nastyString(), fc.string({ maxLength: 500 })), {
      maxKeys: 6,
    }),
    pid: fc.oneof(fc.constant(null), fc.integer({ min: 0, max: 4294967295 })),
    hostname: fc.oneof(fc.constant(null), name(255)),
    peer,
  })
  .map((e) => {
    if (e.peer === undefined) delete (e as { peer?: unknown }).peer;
    return e;
  });

/**
 * What {@link storedEntry} makes: structurally a `LogEntry` of @logstream/protocol, its `peer` a
 * `PeerIdentity` (this package does not depend on protocol, whose tests use it).
 */
export type StoredEntry = typeof storedEntry extends fc.Arbitrary<infer E> ? E : never;

/**
 * An entry and its stored line: usually `encode(entry)` (pass protocol's `encodeEntry`, the
 * canonical encoding), sometimes the same object in another key order with spaces (the reader
 * takes keys as the line spells them).
 */
export function storedLine(encode: (entry: StoredEntry) => string): fc.Arbitrary<{ entry: StoredEntry; line: Buffer }> {
  return fc.tuple(storedEntry, fc.boolean(), fc.boolean()).map(([entry, reorder, spaced]) => {
    if (!reorder) return { entry, line: Buffer.from(encode(entry)) };
    const reversed = Object.fromEntries(Object.entries(entry).reverse());
    return { entry, line: Buffer.from(JSON.stringify(reversed, null, spaced ? 1 : 0).replace(/\n/g, ' ')) };
  });
}
