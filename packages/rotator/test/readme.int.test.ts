import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const here = dirname(dirname(fileURLToPath(import.meta.url)));

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'rot-readme-'));
  // The project of a user who installed the package: import '@logstream/rotator' resolves to it.
  await mkdir(join(dir, 'node_modules', '@logstream'), { recursive: true });
  await symlink(here, join(dir, 'node_modules', '@logstream', 'rotator'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** The first ```js block after `heading` in the README. */
async function block(heading: string): Promise<string> {
  const readme = await readFile(join(here, 'README.md'), 'utf8');
  const from = readme.indexOf(heading);
  expect(from, heading).toBeGreaterThanOrEqual(0);
  const m = /```js\n([\s\S]*?)```/.exec(readme.slice(from));
  if (m === null) throw new Error(`no js block after ${heading}`);
  return m[1] as string;
}

describe('README', () => {
  it('"Reading the newest archive" runs as written and prints the newest archive and its last line', async () => {
    await writeFile(join(dir, 'newest.mjs'), await block('## Reading the newest archive'));
    const { stdout } = await run(process.execPath, ['newest.mjs'], { cwd: dir, timeout: 60_000 });
    expect(stdout.trim()).toMatch(/^current-\d{8}T\d{6}\.\d{3}Z-000001\.log\.gz \{"message":"line \d+"\}$/);
    expect((await readdir(join(dir, 'logs'))).sort()).toContain('current.log');
  });
});
