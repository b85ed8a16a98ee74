export { NatsBackend } from './nats-backend';
export {
  DEFAULT_SUBJECT_PREFIX,
  DEFAULT_STREAM,
  DEFAULT_REPLICAS,
  DEFAULT_DUPLICATE_WINDOW_MS,
  DEFAULT_MAX_INFLIGHT,
  DEFAULT_PUBLISH_TIMEOUT_MS,
  DEFAULT_WRITE_TIMEOUT_MS,
  DEFAULT_CONNECT_TIMEOUT_MS,
} from './defaults';
export type { NatsBackendOptions, NatsBackendStats, NatsTlsOptions } from './nats-backend';
export { subjectToken } from './subjects';
