// Owns the defaults of NatsBackendOptions, in a module without the nats client, so that a server
// can document them (`@logstream/backend-nats/defaults`) without loading NATS.

/** Default of `NatsBackendOptions.subjectPrefix`. */
export const DEFAULT_SUBJECT_PREFIX = 'logs';
/** Default of `NatsBackendOptions.stream`. */
export const DEFAULT_STREAM = 'LOGSTREAM';
/** Default of `NatsBackendOptions.replicas`. */
export const DEFAULT_REPLICAS = 1;
/** Default of `NatsBackendOptions.duplicateWindowMs` (NATS's own default). */
export const DEFAULT_DUPLICATE_WINDOW_MS = 120_000;
/** Default of `NatsBackendOptions.maxInflight`. */
export const DEFAULT_MAX_INFLIGHT = 256;
/** Default of `NatsBackendOptions.publishTimeoutMs`. */
export const DEFAULT_PUBLISH_TIMEOUT_MS = 5000;
/** Default of `NatsBackendOptions.writeTimeoutMs`. */
export const DEFAULT_WRITE_TIMEOUT_MS = 30_000;
/** Default of `NatsBackendOptions.connectTimeoutMs`. */
export const DEFAULT_CONNECT_TIMEOUT_MS = 5000;
