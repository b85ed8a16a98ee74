// The journald peer itself comes from @logstream/test-support; this file adds the backend's
// source (and its unix-dgram types) on top of it.
import { afterAll, beforeAll } from 'vitest';
import { JournaldBackend } from '../../src/index';
import { startJournald, stopJournald, type JournaldPeer } from '@logstream/test-support';

/**
 * For a describe block: a private journald, started before the block's tests and stopped after
 * them. `peer` may be read in tests (not before) and replaced (a restart); the one there at the
 * end is stopped.
 */
export function useJournaldPeer(): { peer: JournaldPeer } {
  let current: JournaldPeer | undefined;
  beforeAll(async () => {
    current = await startJournald();
  });
  afterAll(async () => {
    if (current !== undefined) await stopJournald(current);
  });
  return {
    get peer(): JournaldPeer {
      if (current === undefined) throw new Error('useJournaldPeer: no journald yet (read `peer` inside a test)');
      return current;
    },
    set peer(peer: JournaldPeer) {
      current = peer;
    },
  };
}

/**
 * For a describe block: {@link useJournaldPeer} and an open JournaldBackend on its socket, closed
 * after the block's tests (before the peer stops: vitest runs afterAll hooks in reverse order).
 */
export function useJournaldBackend(): { peer: JournaldPeer; readonly backend: JournaldBackend } {
  const journald = useJournaldPeer();
  let backend: JournaldBackend | undefined;
  beforeAll(async () => {
    backend = new JournaldBackend({ socketPath: journald.peer.socket });
    await backend.open();
  });
  afterAll(async () => {
    await backend?.close();
  });
  return {
    get peer(): JournaldPeer {
      return journald.peer;
    },
    set peer(peer: JournaldPeer) {
      journald.peer = peer;
    },
    get backend(): JournaldBackend {
      if (backend === undefined) throw new Error('useJournaldBackend: no backend yet (read `backend` inside a test)');
      return backend;
    },
  };
}
