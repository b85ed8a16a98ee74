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
  // The bin: ESM only (top-level await).
  { entry: ['src/cli.ts'], format: ['esm'], sourcemap: true, target: 'node20', platform: 'node' },
]);
