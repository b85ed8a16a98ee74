// Owns the defaults of LogServerOptions that the server app's server.toml also documents, so
// that the app imports them instead of repeating them.

/** Default of `LogServerOptions.maxConnections`. */
export const DEFAULT_MAX_CONNECTIONS = 1000;
/**
 * Default of `LogServerOptions.readBufferBytes` (the spec's `buffer_size = 8192`): what each
 * connection's socket buffers before it stops reading, so with `maxConnections` it bounds the
 * memory of a server whose backends push back.
 */
export const DEFAULT_READ_BUFFER_BYTES = 8192;
/** Default of `LogServerOptions.socketMode`: owner and group may log; not world-writable. */
export const DEFAULT_SOCKET_MODE = 0o660;
/** Default of `LogServerOptions.shutdownTimeoutMs`. */
export const DEFAULT_SHUTDOWN_TIMEOUT_MS = 5000;
/** Default of `LogServerOptions.dedupeWindow`: entry ids remembered to drop resends. */
export const DEFAULT_DEDUPE_WINDOW = 65536;
/** Default of `LogServerOptions.maxInflightBytes`: above it the server stops reading sockets. */
export const DEFAULT_MAX_INFLIGHT_BYTES = 16 * 1024 * 1024;
