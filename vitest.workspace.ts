import { defineConfig } from 'vitest/config';

// A config (not the old workspace array): Vitest 3.2+ reads `test.projects`. Its name keeps
// Vitest from finding it when it walks up from a package directory.
export default defineConfig({
  test: {
    projects: ['packages/*', 'apps/*'],
  },
});
