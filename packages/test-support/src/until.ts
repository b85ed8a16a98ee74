// Polling with a deadline: how a test waits for something another process or the event loop does.
import { setTimeout as sleep } from 'node:timers/promises';

/** How often {@link until} asks again. */
const POLL_MS = 20;

/**
 * Polls `predicate` every 20 ms until it holds; throws `timed out waiting for <what>` after
 * `timeoutMs`. The deadline is generous on purpose: it only decides how long a failing test
 * takes, never whether a passing one passes (the machine may be loaded).
 */
export async function until(predicate: () => boolean | Promise<boolean>, timeoutMs = 20_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(POLL_MS);
  }
}
