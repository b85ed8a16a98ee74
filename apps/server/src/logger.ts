/** The server's own diagnostics: one line each on stderr, `LEVEL message`. */
export interface Logger {
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
  debug(message: string): void;
}

// Control characters (C0 but newline, DEL, C1), bidi controls and line separators: a message can
// quote what a client sent (a refused field key), and none of it may reach a terminal raw.
// eslint-disable-next-line no-control-regex
const UNSAFE = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]/g;

/** A logger for stderr; debug lines only when `debug` is true. */
export function createLogger(debug: boolean): Logger {
  const line = (level: string, message: string) => {
    // One line per event: a multi-line message is folded so log scrapers keep it whole.
    const text = message.replace(/\n/g, ' | ').replace(UNSAFE, (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`);
    process.stderr.write(`${new Date().toISOString()} ${level} logstream-server: ${text}\n`);
  };
  return {
    info: (m) => line('INFO ', m),
    warn: (m) => line('WARN ', m),
    error: (m) => line('ERROR', m),
    debug: (m) => {
      if (debug) line('DEBUG', m);
    },
  };
}
