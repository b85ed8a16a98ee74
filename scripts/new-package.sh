#!/usr/bin/env bash
# Lays out one publishable package in the house shape. Usage: new-package.sh DIR NAME "description" DEPS_JSON
set -euo pipefail
dir=$1 name=$2 desc=$3 deps=${4:-'{}'}
mkdir -p "$dir/src" "$dir/test"
cat > "$dir/package.json" <<JSON
{
  "name": "$name",
  "version": "0.0.0",
  "description": "$desc",
  "license": "MIT",
  "type": "module",
  "sideEffects": false,
  "exports": {
    ".": {
      "import": { "types": "./dist/index.d.ts", "default": "./dist/index.js" },
      "require": { "types": "./dist/index.d.cts", "default": "./dist/index.cjs" }
    },
    "./package.json": "./package.json"
  },
  "main": "./dist/index.cjs",
  "module": "./dist/index.js",
  "types": "./dist/index.d.cts",
  "files": ["dist"],
  "engines": { "node": ">=20" },
  "publishConfig": { "access": "public" },
  "scripts": { "build": "tsup", "typecheck": "tsc --noEmit" },
  "dependencies": $deps
}
JSON
cat > "$dir/tsup.config.ts" <<'TS'
import { defineConfig } from 'tsup';

export default defineConfig({
  entry: ['src/index.ts'],
  format: ['esm', 'cjs'],
  dts: true,
  sourcemap: true,
  clean: true,
  target: 'node20',
  platform: 'node',
});
TS
cat > "$dir/tsconfig.json" <<'TS'
{
  "extends": "../../tsconfig.base.json",
  "include": ["src", "test"]
}
TS
cat > "$dir/vitest.config.ts" <<'TS'
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
TS
