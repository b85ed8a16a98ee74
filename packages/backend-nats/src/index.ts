export { NatsBackend } from './nats-backend';
export type { NatsBackendOptions, NatsBackendStats, NatsTlsOptions } from './nats-backend';
export { subjectToken } from './subjects';
