import { randomUUID } from 'node:crypto';
import { EntryBatch, type LogEntry } from '@logstream/protocol';

/** A daemon name no other test uses, to select this test's entries in a shared journal. */
export function uniqueDaemon(prefix = 'test'): string {
  return `${prefix}-${randomUUID().slice(0, 8)}`;
}

/** A complete entry with a fresh id; `over` replaces any part of it. */
export function makeEntry(daemon: string, over: Partial<LogEntry> = {}): LogEntry {
  return {
    id: randomUUID(),
    timestamp: new Date().toISOString(),
    level: 6,
    daemon,
    message: 'hello',
    fields: {},
    pid: 4242,
    hostname: 'host01',
    ...over,
  };
}

/** `count` entries numbered in their message (`entry 0`, `entry 1`, …) and in the field `seq`. */
export function makeBatch(daemon: string, count: number, messageBytes = 0): { batch: EntryBatch; entries: LogEntry[] } {
  const pad = messageBytes > 0 ? ` ${'p'.repeat(messageBytes)}` : '';
  const entries: LogEntry[] = [];
  for (let i = 0; i < count; i++) {
    entries.push(makeEntry(daemon, { message: `entry ${i}${pad}`, fields: { seq: String(i) } }));
  }
  return { batch: EntryBatch.fromEntries(entries), entries };
}
