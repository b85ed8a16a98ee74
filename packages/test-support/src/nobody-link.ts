// The planted output directory of the root-only symlink tests: another user's directory that
// links current.log to a file only root may read.
import { execFile } from 'node:child_process';
import { chmod, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const execFileP = promisify(execFile);

/**
 * Makes `parent` world-writable and sticky (mode 1777), writes `content` to a root-only 0600
 * file `secret` in it, then, as nobody (`runuser`, so the caller must be root), makes the
 * directory `out` and a link `out/current.log` to the secret. Returns the secret's path.
 */
export async function plantNobodyLink(parent: string, out: string, content: string): Promise<string> {
  await chmod(parent, 0o1777);
  const secret = join(parent, 'secret');
  await writeFile(secret, content, { mode: 0o600 });
  await execFileP('runuser', ['-u', 'nobody', '--', 'mkdir', out]);
  await execFileP('runuser', ['-u', 'nobody', '--', 'ln', '-s', secret, join(out, 'current.log')]);
  return secret;
}
