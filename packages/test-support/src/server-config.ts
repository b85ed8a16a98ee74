// Config files for the built server that the tests of several packages write.

/** Options of {@link rotatingFileToml}. */
export interface RotatingFileTomlOptions {
  socketPath: string;
  outputDirectory: string;
  /** `none` writes plain archives. */
  compression: 'none' | 'gzip' | 'lz4';
  /** Rotation size, in bytes. */
  maxFileSize: number;
}

/**
 * A server config (TOML) with only the file backend, as JSON lines, rotating at `maxFileSize`
 * bytes, keeping every archive for a day.
 */
export function rotatingFileToml(options: RotatingFileTomlOptions): string {
  const { socketPath, outputDirectory, compression, maxFileSize } = options;
  return [
    '[server]',
    `socket_path = "${socketPath}"`,
    '[storage]',
    `output_directory = "${outputDirectory}"`,
    `max_file_size = ${maxFileSize}`,
    '[storage.rotation]',
    'enabled = true',
    'max_age_hours = 24',
    'keep_files = 100000',
    '[backends.file]',
    'enabled = true',
    'format = "json"',
    `compression = ${compression !== 'none'}`,
    `compression_algorithm = "${compression === 'none' ? 'gzip' : compression}"`,
    '',
  ].join('\n');
}
