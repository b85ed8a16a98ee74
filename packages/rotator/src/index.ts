export { RotatingFileWriter } from './rotating-file-writer';
export type { RotatingFileWriterOptions, SyncPolicy } from './rotating-file-writer';
