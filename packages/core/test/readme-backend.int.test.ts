import { afterEach, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const PACKAGE = join(dirname(fileURLToPath(import.meta.url)), '..');
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

/** The first ```js block after `heading` in the package README. */
async function readmeBlock(heading: string): Promise<string> {
  const readme = await readFile(join(PACKAGE, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf(heading));
  const block = /```js\n([\s\S]*?)```/.exec(section);
  if (block === null || !readme.includes(heading)) throw new Error(`no js block after ${heading}`);
  return block[1] as string;
}

describe('the core README', () => {
  it('runs the example third-party backend as written: the entry is acknowledged and stored once', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ls-'));
    // Inside the package, so that `@logstream/core` resolves to this package (self-reference).
    const script = join(PACKAGE, 'test', `.readme-backend-${process.pid}.mjs`);
    cleanups.push(
      () => rm(dir, { recursive: true, force: true }),
      () => rm(script, { force: true }),
    );
    await writeFile(script, await readmeBlock('## Writing a backend'));
    const { stdout } = await promisify(execFile)(process.execPath, [script], {
      env: { ...process.env, EXAMPLE_DIR: dir },
      timeout: 30_000,
    });
    expect(stdout.trim()).toBe('stored');
    const lines = (await readFile(join(dir, 'example.ndjson'), 'utf8')).split('\n').filter((l) => l !== '');
    expect(lines.map((l) => (JSON.parse(l) as { message: string; daemon: string }).message)).toEqual(['hello from a custom backend']);
  });
});
