import { logstreamTransport } from './pino-transport';

export { logstreamTransport, pinoLevelToLogLevel } from './pino-transport';
export type { PinoTransportOptions } from './pino-transport';
// pino loads a transport's default export (the one default export in the repository: pino requires it).
export default logstreamTransport;
