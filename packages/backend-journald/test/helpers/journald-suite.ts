// Kept apart from journald-peer.ts, which the server's tests import too: this one loads the
// backend's source (and its unix-dgram types).
import { afterAll, beforeAll } from 'vitest';
import { JournaldBackend } from '../../src/index';
import { startJournald, stopJournald, type JournaldPeer } from './journald-peer';

/**
 * For a describe block: a private journald and an open JournaldBackend on its socket, started
 * before the block's tests and stopped after them. A test may replace `peer` (a restart); the
 * one there at the end is stopped.
 */
export function useJournaldBackend(): { peer: JournaldPeer; backend: JournaldBackend } {
  const env = {} as { peer: JournaldPeer; backend: JournaldBackend };
  beforeAll(async () => {
    env.peer = await startJournald();
    env.backend = new JournaldBackend({ socketPath: env.peer.socket });
    await env.backend.open();
  });
  afterAll(async () => {
    await (env.backend as JournaldBackend | undefined)?.close();
    if ((env.peer as JournaldPeer | undefined) !== undefined) await stopJournald(env.peer);
  });
  return env;
}
