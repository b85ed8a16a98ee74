import { describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

// Every JavaScript block of every package README runs as written, or is marked as a fragment
// (`<!-- fragment: why -->` on the line before, or `fragment` in the fence's info string). The
// client, pino and winston READMEs and the top-level one need a live server and have their own
// runner (packages/client/test/readme-examples.int.test.ts); every other package's blocks run
// here, each in its package (so it imports the package as a user would) from a fresh temp dir.

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const RUN_ELSEWHERE = new Set(['client', 'pino', 'winston']);

interface Block {
  readme: string;
  line: number;
  code: string;
  fragment: boolean;
}

function blocks(readme: string): Block[] {
  const lines = readFileSync(readme, 'utf8').split('\n');
  const found: Block[] = [];
  for (let i = 0; i < lines.length; i++) {
    const fence = /^```(js|mjs|ts|javascript|typescript)\b(.*)$/.exec(lines[i] as string);
    if (fence === null) continue;
    const end = lines.indexOf('```', i + 1);
    const before = lines.slice(Math.max(0, i - 2), i).join('\n');
    found.push({
      readme,
      line: i + 1,
      code: lines.slice(i + 1, end).join('\n'),
      fragment: /\bfragment\b/.test(fence[2] as string) || /<!--\s*fragment\b/.test(before),
    });
    i = end;
  }
  return found;
}

const packages = readdirSync(join(ROOT, 'packages')).filter((p) => existsSync(join(ROOT, 'packages', p, 'README.md')));
const runnable = packages
  .filter((p) => !RUN_ELSEWHERE.has(p))
  .flatMap((p) => blocks(join(ROOT, 'packages', p, 'README.md')).map((b) => ({ ...b, dir: join(ROOT, 'packages', p) })))
  .filter((b) => !b.fragment);

describe('README code blocks', () => {
  it('finds the blocks it is meant to run', () => {
    expect(runnable.length).toBeGreaterThanOrEqual(5);
  });

  it.each(runnable.map((b) => [`${relative(ROOT, b.readme)}:${b.line}`, b] as const))('%s runs as written', async (_name, block) => {
    const cwd = await mkdtemp(join(tmpdir(), 'ls-'));
    // Inside the package, so that its own name and its dependencies resolve as they would for a user.
    const script = join(block.dir, `.readme-block-${process.pid}-${block.line}.mjs`);
    try {
      await writeFile(script, block.code);
      await promisify(execFile)(process.execPath, [script], { cwd, env: { ...process.env, EXAMPLE_DIR: cwd }, timeout: 60_000 });
    } finally {
      await rm(script, { force: true });
      await rm(cwd, { recursive: true, force: true });
    }
  });
});
