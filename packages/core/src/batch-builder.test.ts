import { describe, expect, it } from 'vitest';
import { BatchBuilder, MAX_BATCH_BYTES, MAX_BATCH_ENTRIES, MAX_BATCH_MS } from './batch-builder';

const line = (text: string) => Buffer.from(text);

describe('BatchBuilder', () => {
  it('gathers lines, levels, bytes and the latest ack per key, and starts afresh once taken', () => {
    const b = new BatchBuilder<string>();
    expect(b.take()).toBeUndefined();
    b.add(line('{"a":1}'), 6);
    b.add(line('{"b":22}'), 3);
    expect(b.note('conn1', 1, 10, 10)).toBe(false);
    expect(b.note('conn1', 2, 10, 10)).toBe(false);
    b.noteAck('conn2', 7);
    expect(b.length).toBe(2);
    expect(b.bytes).toBe(8 + 9);
    const taken = b.take();
    expect(taken?.batch.lines.map(String)).toEqual(['{"a":1}', '{"b":22}']);
    expect(taken?.batch.levels).toEqual([6, 3]);
    expect(taken?.bytes).toBe(17);
    expect([...(taken?.acks ?? [])]).toEqual([
      ['conn1', 2],
      ['conn2', 7],
    ]);
    expect(b.length).toBe(0);
    expect(b.bytes).toBe(0);
    expect(b.take()).toBeUndefined();
    // Acks alone (a refused connection's last lines) make a batch of no entries.
    b.noteAck('conn3', 4);
    expect(b.take()?.batch.length).toBe(0);
  });

  it('asks to be written at MAX_BATCH_ENTRIES entries', () => {
    const b = new BatchBuilder<number>();
    const one = line('x');
    for (let i = 1; i < MAX_BATCH_ENTRIES; i++) b.add(one, 6);
    expect(b.note(1, MAX_BATCH_ENTRIES - 1, 0.5, 0.5)).toBe(false);
    b.add(one, 6);
    expect(b.note(1, MAX_BATCH_ENTRIES, 0.5, 0.5)).toBe(true);
  });

  it('asks to be written at MAX_BATCH_BYTES', () => {
    const b = new BatchBuilder<number>();
    b.add(Buffer.alloc(MAX_BATCH_BYTES - 2), 6);
    expect(b.note(1, 1, 0.5, 0.5)).toBe(false);
    b.add(Buffer.alloc(0), 6);
    expect(b.bytes).toBe(MAX_BATCH_BYTES);
    expect(b.note(1, 2, 0.5, 0.5)).toBe(true);
  });

  it('asks to be written MAX_BATCH_MS after its first chunk began being read, counted anew after take', () => {
    const b = new BatchBuilder<number>();
    b.add(line('x'), 6);
    expect(b.note(1, 1, 100, 100.5)).toBe(false);
    // A later chunk began later, but the batch's age runs from the first one.
    expect(b.note(2, 1, 101, 100 + MAX_BATCH_MS - 0.01)).toBe(false);
    expect(b.note(2, 2, 101.5, 100 + MAX_BATCH_MS)).toBe(true);
    b.take();
    b.add(line('y'), 6);
    expect(b.note(1, 2, 200, 200 + MAX_BATCH_MS - 0.01)).toBe(false);
  });

  it('keeps lines back to back in one buffer as one NDJSON run, handed over without a copy', () => {
    const b = new BatchBuilder<number>();
    const arena = Buffer.from('{"a":1}\n{"b":2}\n{"c":3}\n');
    b.addFrom(arena, 0, 7, 6);
    b.addFrom(arena, 8, 15, 6);
    b.add(line('{"slow":1}'), 4);
    b.addFrom(arena, 16, 23, 6);
    b.noteAck(1, 4);
    const taken = b.take();
    expect(taken?.bytes).toBe(8 + 8 + 11 + 8);
    expect(taken?.batch.lines.map(String)).toEqual(['{"a":1}', '{"b":2}', '{"slow":1}', '{"c":3}']);
    expect(taken?.batch.levels).toEqual([6, 6, 4, 6]);
    expect(taken?.batch.ndjson().toString()).toBe('{"a":1}\n{"b":2}\n{"slow":1}\n{"c":3}\n');
    b.addFrom(arena, 0, 7, 6);
    b.addFrom(arena, 8, 15, 6);
    b.noteAck(1, 6);
    const run = b.take()?.batch.ndjson();
    expect(run?.buffer).toBe(arena.buffer);
    expect(run?.toString()).toBe('{"a":1}\n{"b":2}\n');
  });
});
