// Numbered entries for the delivery tests: each message carries its run and its seq, so a
// test counts what arrived, what was lost and what came twice by reading the messages back.
import { randomUUID } from 'node:crypto';
import { EntryBatch, type LogEntry } from '@logstream/protocol';

/** What differs between the tests' entries: the daemon and pid, the text after the seq, the fields. */
export interface SeqEntryShape {
  daemon: string;
  pid: number;
  /** Written after `seq=<n> ` in each message. */
  tail: string;
  /** The fields of entry `seq`. */
  fields: (seq: number) => Record<string, string>;
}

/** `n` entries with messages `<run> seq=<from..from+n-1> <tail>`, stamped now, on host `h1`. */
export function seqBatch(run: string, from: number, n: number, shape: SeqEntryShape): EntryBatch {
  const entries: LogEntry[] = [];
  for (let i = from; i < from + n; i++) {
    entries.push({
      id: randomUUID(),
      timestamp: new Date().toISOString(),
      level: 6,
      daemon: shape.daemon,
      message: `${run} seq=${i} ${shape.tail}`,
      fields: shape.fields(i),
      pid: shape.pid,
      hostname: 'h1',
    });
  }
  return EntryBatch.fromEntries(entries);
}

/** The seq a {@link seqBatch} message carries (NaN for a message without one). */
export function seqOf(message: string): number {
  return Number(/seq=(\d+)/.exec(message)?.[1]);
}
