/** The server's own diagnostics: one line each on stderr, `LEVEL message`. */
export interface Logger {
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
  debug(message: string): void;
}

/** A logger for stderr; debug lines only when `debug` is true. */
export function createLogger(debug: boolean): Logger {
  const line = (level: string, message: string) => {
    // One line per event: a multi-line message is folded so log scrapers keep it whole.
    process.stderr.write(`${new Date().toISOString()} ${level} logstream-server: ${message.replace(/\n/g, ' | ')}\n`);
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
