// Owns turning stored entry lines into framed syslog messages: formatted from each line's bytes
// (SyslogWriter) into one buffer per write, each frame a view of it, framed as frameMessage does.
import { SyslogWriter, type ByteSink, type SyslogFormat, type SyslogFormatOptions } from '@logstream/protocol';
import { truncateUtf8, type SyslogFraming } from './framing';

/** One framed message and whether its message was cut to `maxMessageBytes`. */
export interface WrittenFrame {
  frame: Buffer;
  truncated: boolean;
}

/**
 * Formats and frames entries for one transport: the same bytes as
 * `frameMessage(formatSyslog(entry), framing, maxMessageBytes)` for the decoded entry, written
 * straight from the entry's line into a {@link ByteSink} (the frame is a view of the sink).
 */
export class FrameWriter {
  readonly #writer: SyslogWriter;
  readonly #framing: SyslogFraming | 'none';
  readonly #maxMessageBytes: number;
  // Room kept before an octet-counted message for its length and the space after it.
  readonly #prefixRoom: number;

  constructor(format: SyslogFormat, options: SyslogFormatOptions, framing: SyslogFraming | 'none', maxMessageBytes: number) {
    this.#writer = new SyslogWriter(format, options, framing === 'lf' ? 'lf' : 'none');
    this.#framing = framing;
    this.#maxMessageBytes = maxMessageBytes;
    this.#prefixRoom = String(maxMessageBytes).length + 1;
  }

  /** Formats and frames one stored entry line into `sink`. */
  write(line: Buffer, sink: ByteSink): WrittenFrame {
    const framing = this.#framing;
    const max = this.#maxMessageBytes;
    if (framing === 'octet-counting') {
      sink.ensure(this.#prefixRoom);
      sink.at += this.#prefixRoom;
    }
    const start = sink.at;
    this.#writer.writeLine(line, sink);
    let length = sink.at - start;
    const truncated = length > max;
    if (truncated) {
      length = truncateUtf8(sink.buf.subarray(start, sink.at), max).length;
      sink.at = start + length;
    }
    if (framing === 'none') return { frame: sink.buf.subarray(start, sink.at), truncated };
    if (framing === 'lf') {
      sink.byte(0x0a);
      return { frame: sink.buf.subarray(start, sink.at), truncated };
    }
    const prefix = `${length} `;
    const from = start - prefix.length;
    sink.buf.write(prefix, from, 'latin1');
    return { frame: sink.buf.subarray(from, sink.at), truncated };
  }
}
