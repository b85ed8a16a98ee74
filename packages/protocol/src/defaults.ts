// Owns the defaults that more than one package must agree on beyond the socket path (which
// frames.ts owns): where the server stores entries, which the query tool reads by default.

/** Default directory of the stored entries: the server's `storage.output_directory`, where `logstream-query` looks. */
export const DEFAULT_OUTPUT_DIRECTORY = '/var/log/logstream';
