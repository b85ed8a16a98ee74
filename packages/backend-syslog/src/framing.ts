/** How messages are delimited on a TCP or TLS stream (RFC 6587). */
export type SyslogFraming = 'octet-counting' | 'lf';

const LF = /\n/g;

/**
 * Cuts `buf` to at most `max` bytes without splitting a UTF-8 sequence. Returns `buf` itself
 * when it fits.
 */
export function truncateUtf8(buf: Buffer, max: number): Buffer {
  if (buf.length <= max) return buf;
  let end = max;
  // Back up over continuation bytes (10xxxxxx) to the start of the cut character.
  while (end > 0 && ((buf[end] as number) & 0xc0) === 0x80) end--;
  return buf.subarray(0, end);
}

/**
 * Builds the bytes that go on the wire for one formatted message.
 *
 * - `none` (datagrams: local socket, UDP): the message itself.
 * - `octet-counting` (RFC 6587 §3.4.1, RFC 5425): `LEN SP MSG`; newlines stay in the message.
 * - `lf` (RFC 6587 §3.4.2, non-transparent framing): `MSG LF`, each LF inside the message
 *   replaced by `#012` (rsyslog's own escape), since a receiver would split there.
 *
 * The message is cut to `maxMessageBytes` at a character boundary first.
 *
 * @returns the frame, and whether the message was cut
 */
export function frameMessage(
  message: string,
  framing: SyslogFraming | 'none',
  maxMessageBytes: number,
): { frame: Buffer; truncated: boolean } {
  const text = framing === 'lf' && message.includes('\n') ? message.replace(LF, '#012') : message;
  // A UTF-16 unit is at most 3 UTF-8 bytes: short strings need no byte count.
  if (text.length * 3 <= maxMessageBytes || Buffer.byteLength(text) <= maxMessageBytes) {
    if (framing === 'none') return { frame: Buffer.from(text), truncated: false };
    if (framing === 'lf') return { frame: Buffer.from(`${text}\n`), truncated: false };
    return { frame: Buffer.from(`${Buffer.byteLength(text)} ${text}`), truncated: false };
  }
  const body = truncateUtf8(Buffer.from(text), maxMessageBytes);
  if (framing === 'none') return { frame: body, truncated: true };
  if (framing === 'lf') return { frame: Buffer.concat([body, LF_BYTE]), truncated: true };
  return { frame: Buffer.concat([Buffer.from(`${body.length} `), body]), truncated: true };
}

const LF_BYTE = Buffer.from('\n');
