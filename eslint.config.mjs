// ESLint 9 flat config. TypeScript is linted with type information (typescript-eslint's project
// service finds each package's tsconfig.json), because in a daemon a promise nobody awaits is a
// crash or a lost log, and only a typed linter catches it. Formatting is Prettier's job, not ESLint's.
import js from '@eslint/js';
import { defineConfig, globalIgnores } from 'eslint/config';
import globals from 'globals';
import tseslint from 'typescript-eslint';

// House style: `_` marks an unused parameter (STYLE.md), and destructuring to drop keys.
const unusedVars = { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrorsIgnorePattern: '^_', ignoreRestSiblings: true };

export default defineConfig([
  globalIgnores(['**/dist/', '**/coverage/', '**/node_modules/']),

  {
    linterOptions: { reportUnusedDisableDirectives: 'error' },
  },

  // TypeScript sources and tests (packages/*/src, packages/*/test, apps/*/src, apps/*/test).
  {
    files: ['**/*.ts', '**/*.mts', '**/*.cts'],
    extends: [js.configs.recommended, tseslint.configs.recommendedTypeChecked],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/consistent-type-imports': [
        'error',
        { prefer: 'type-imports', fixStyle: 'separate-type-imports', disallowTypeAnnotations: true },
      ],
      // Off on purpose: `async` methods without `await` are how our Promise-returning APIs
      // (Backend.write/reopen, transports' close) turn a synchronous throw (closed, bad config)
      // into a rejection, as their docs promise. Rewriting them as `return Promise.resolve()` /
      // `Promise.reject()` would be noisier and easy to get wrong; the typed promise rules above
      // are what catch real mistakes.
      '@typescript-eslint/require-await': 'off',
      '@typescript-eslint/no-unused-vars': ['error', unusedVars],
    },
  },

  // Tests: Vitest types its asymmetric matchers (`expect.stringContaining()`, `expect.any()`,
  // `expect.objectContaining()`) as `any`, so every `toMatchObject({ message: expect.stringContaining(...) })`
  // would be an "unsafe" assignment or argument. Those two rules stay on everywhere else.
  {
    files: ['**/*.test.ts'],
    rules: {
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
    },
  },

  // Build and test configs sit outside every tsconfig's `include` (["src", "test"]), so the
  // project service has no program for them: lint them without type information.
  {
    files: ['**/tsup.config.ts', '**/vitest.config.ts', 'vitest.workspace.ts'],
    extends: [tseslint.configs.disableTypeChecked],
  },

  // Plain JavaScript: bench/, scripts/ and test fixtures run as Node ESM scripts. No types, so
  // only the untyped rules.
  {
    files: ['**/*.js', '**/*.mjs', '**/*.cjs'],
    extends: [js.configs.recommended],
    languageOptions: {
      sourceType: 'module',
      globals: { ...globals.node },
    },
    rules: {
      'no-unused-vars': ['error', unusedVars],
    },
  },
]);
