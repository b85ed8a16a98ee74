import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
// The real server, built, and the examples run as an application runs them.
import { linkPackages, readEntries, runScript, startServer, until, useServerDir } from '@logstream/test-support';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const READMES = ['packages/client/README.md', 'packages/pino/README.md', 'packages/winston/README.md', 'README.md'];

/**
 * The JavaScript code blocks of a README (```js, ```mjs, ```cjs). A block is skipped when its
 * info string says `fragment` (```js fragment) or the line before its fence starts with
 * `<!-- fragment` (the marker, to be used sparingly: say why after the colon).
 */
export function codeBlocks(markdown: string): { line: number; code: string }[] {
  const lines = markdown.split('\n');
  const blocks: { line: number; code: string }[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(js|mjs|cjs)(.*)$/.exec(lines[i] as string);
    if (open === null) continue;
    const end = lines.indexOf('```', i + 1);
    if (end === -1) throw new Error(`unclosed code block at line ${i + 1}`);
    const fragment = /\bfragment\b/.test(open[2] as string) || (lines[i - 1] ?? '').startsWith('<!-- fragment');
    if (!fragment) blocks.push({ line: i + 1, code: lines.slice(i + 1, end).join('\n') });
    i = end;
  }
  return blocks;
}

let dir: string;
let sock: string;
let out: string;
useServerDir((paths) => ({ dir, sock, out } = paths));

const examples = READMES.flatMap((readme) =>
  codeBlocks(readFileSync(join(ROOT, readme), 'utf8')).map((b) => ({ name: `${readme}:${b.line}`, ...b })),
);

describe('README examples run as written', () => {
  it('finds the examples: ESM and CommonJS in each package README', () => {
    for (const readme of READMES.slice(0, 3)) {
      const mine = examples.filter((e) => e.name.startsWith(`${readme}:`));
      expect(mine.some((e) => /\brequire\(/.test(e.code))).toBe(true);
      expect(mine.some((e) => /^import /m.test(e.code))).toBe(true);
    }
  });

  it.each(examples)('$name', async ({ name, code }) => {
    await startServer(['-s', sock, '-o', out]);
    await linkPackages(dir);
    // The examples name the default socket; here it is the test server's (also $LOGSTREAM_SOCKET).
    const source = code.replaceAll('/tmp/logstream.sock', sock);
    const kind = /\brequire\(/.test(code) ? 'cjs' : 'mjs';
    const r = await runScript(dir, `example.${kind}`, source, { env: { LOGSTREAM_SOCKET: sock } });
    expect(r, name).toMatchObject({ code: 0, killed: false, stderr: '' });
    await until(async () => (await readEntries(join(out, 'current.log'))).length > 0, 15_000, `${name} stores entries`);
  });
});
