export {
  RotatingFileWriter,
  DEFAULT_MAX_FILE_BYTES,
  DEFAULT_MAX_AGE_HOURS,
  DEFAULT_KEEP_FILES,
  DEFAULT_SYNC_POLICY,
} from './rotating-file-writer';
export type {
  Compression,
  CompressedEvent,
  RotateEvent,
  RotatingFileWriterEvents,
  RotatingFileWriterOptions,
  RotatingFileWriterStats,
  RotationOptions,
  SyncPolicy,
} from './rotating-file-writer';
export { RotatorError } from './rotator-error';
export type { RotatorOperation } from './rotator-error';
export { ArchiveNamer, formatStamp } from './archive-names';
export type { ArchiveCompression, ArchiveName } from './archive-names';
export { compressFile } from './compress-file';
export type { CompressFileOptions, CompressResult, CompressionAlgorithm } from './compress-file';
export { EMPTY_BREAK, READ_CHUNK_BYTES, decompressedChunks, lz4FrameLength, readArchiveTail } from './read-archive';
export type { DamageSink } from './read-archive';
export { cutTornLine, secureDirectory } from './safe-files';
