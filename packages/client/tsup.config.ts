import { defineConfig } from 'tsup';

export default defineConfig([
  {
    entry: ['src/index.ts'],
    format: ['esm', 'cjs'],
    dts: true,
    sourcemap: true,
    // Both builds share dist/: this one cleans it, but leaves the other's output alone.
    clean: ['!cli.js', '!cli.js.map'],
    target: 'node20',
    platform: 'node',
  },
  {
    // The `logstream` command (a bin, so ESM only); tsup keeps its shebang and makes it executable.
    entry: ['src/cli.ts'],
    format: ['esm'],
    sourcemap: true,
    clean: false,
    target: 'node20',
    platform: 'node',
  },
]);
