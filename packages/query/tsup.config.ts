import { defineConfig } from 'tsup';

export default defineConfig([
  {
    entry: ['src/index.ts'],
    format: ['esm', 'cjs'],
    dts: true,
    sourcemap: true,
    clean: true,
    target: 'node20',
    platform: 'node',
  },
  // The bin, also exported as `@logstream/query/cli` (the server package's logstream-query runs
  // it): ESM only (top-level await).
  { entry: ['src/cli.ts'], format: ['esm'], dts: true, sourcemap: true, target: 'node20', platform: 'node' },
]);
