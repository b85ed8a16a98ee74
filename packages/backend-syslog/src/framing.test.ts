import { describe, expect, it } from 'vitest';
import { frameMessage, truncateUtf8 } from './framing';

describe('frameMessage', () => {
  it('counts octets (bytes, not characters) for octet-counting', () => {
    expect(frameMessage('<14>1 - - - - - - h\u00e9\nx', 'octet-counting', 1000).frame.toString()).toBe('23 <14>1 - - - - - - h\u00e9\nx');
  });

  it('ends with LF and escapes inner LFs as #012 for lf framing', () => {
    expect(frameMessage('a\nb\nc', 'lf', 1000).frame.toString()).toBe('a#012b#012c\n');
  });

  it('sends datagrams as they are', () => {
    expect(frameMessage('a\nb', 'none', 1000)).toEqual({ frame: Buffer.from('a\nb'), truncated: false });
  });

  it('cuts long messages at a character boundary and says so', () => {
    const { frame, truncated } = frameMessage('\u00e9'.repeat(400), 'octet-counting', 501);
    expect(truncated).toBe(true);
    expect(frame.toString()).toBe(`500 ${'\u00e9'.repeat(250)}`);
    expect(frameMessage('x'.repeat(600), 'lf', 500).frame.length).toBe(501);
    expect(frameMessage('x'.repeat(600), 'none', 500).frame.length).toBe(500);
  });
});

describe('truncateUtf8', () => {
  it('never splits a multi-byte sequence', () => {
    const buf = Buffer.from('a\u4e16\u{1f600}');
    for (let max = 0; max <= buf.length; max++) {
      const cut = truncateUtf8(buf, max);
      expect(cut.length).toBeLessThanOrEqual(max);
      expect(Buffer.from(cut.toString('utf8')).equals(cut)).toBe(true);
    }
  });
});
