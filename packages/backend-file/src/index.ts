export { FileBackend, DEFAULT_FILE_FORMAT } from './file-backend';
// The rotation defaults, for a server that documents them (the rotator owns them).
export { DEFAULT_MAX_FILE_BYTES, DEFAULT_MAX_AGE_HOURS, DEFAULT_KEEP_FILES, DEFAULT_SYNC_POLICY } from '@logstream/rotator';
export type { FileBackendOptions, FileFormat } from './file-backend';
export { formatHuman, HumanWriter } from './human-format';
