export { LogStreamTransport, WINSTON_LEVELS } from './logstream-transport';
export type { LogStreamTransportOptions } from './logstream-transport';
