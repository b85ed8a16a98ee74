export { FileBackend } from './file-backend';
export type { FileBackendOptions, FileFormat } from './file-backend';
export { formatHuman, HumanWriter } from './human-format';
