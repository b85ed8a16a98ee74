export { loadUnixDgram, errnoName, unixDgramSystemError } from './unix-dgram';
export type { UnixDgramError, UnixDgramModule, UnixDgramSocket } from './unix-dgram';
