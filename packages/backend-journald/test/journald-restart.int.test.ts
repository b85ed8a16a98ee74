// journald stopped and started again on the same socket path (same temp dir, same journal), as
// `systemctl restart systemd-journald` does: writes reject while it is gone, then flow again,
// and the server's retry of the rejected batch stores each entry once.
import { LogStreamError } from '@logstream/protocol';
import { describe, expect, it } from 'vitest';
import { makeBatch, uniqueDaemon } from './helpers/entries';
import { journaldUnavailableReason, startJournald, stopJournald, waitForJournal } from '@logstream/test-support';
import { useJournaldBackend } from './helpers/journald-suite';

const unavailable = journaldUnavailableReason();

describe.skipIf(unavailable !== undefined)(`journald restarts${unavailable === undefined ? '' : ` (skipped: ${unavailable})`}`, () => {
  const env = useJournaldBackend();

  it('rejects while journald is down, delivers after it is back, and stores each entry once', async () => {
    const b = env.backend;
    const daemon = uniqueDaemon('restart');
    const match = [`LOGSTREAM_DAEMON=${daemon}`];
    const a = makeBatch(daemon, 5);
    await b.write(a.batch);
    // Stored before the stop: a datagram still queued when journald exits would be lost.
    await waitForJournal(env.peer, match, (r) => r.length >= 5);

    const socket = env.peer.socket;
    await stopJournald(env.peer, { keepData: true });
    const down = makeBatch(daemon, 5);
    const error = await b.write(down.batch).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(LogStreamError.is(error)).toBe(true);
    expect((error as LogStreamError).message).toContain(socket);
    expect((error as LogStreamError).cause).toMatchObject({ code: 'ECONNREFUSED' });
    expect(b.stats().send_errors).toBeGreaterThanOrEqual(1);
    expect(b.stats().connect_errors).toBeGreaterThanOrEqual(1);
    await expect(b.write(down.batch)).rejects.toThrow(LogStreamError);

    env.peer = await startJournald({ base: env.peer.base });
    expect(env.peer.socket).toBe(socket);
    await b.write(down.batch); // the server's retry of the same batch
    const after = makeBatch(daemon, 5);
    await b.write(after.batch);
    expect(b.stats().reconnects).toBeGreaterThanOrEqual(1);

    const ids = [...a.entries, ...down.entries, ...after.entries].map((e) => e.id).sort();
    const records = await waitForJournal(env.peer, match, (r) => r.length >= ids.length);
    expect(records.map((r) => r.LOGSTREAM_ID as string).sort()).toEqual(ids);
  });

  it('goes on without a rejection when journald restarted between two writes', async () => {
    const b = env.backend;
    const daemon = uniqueDaemon('bounce');
    await stopJournald(env.peer, { keepData: true });
    env.peer = await startJournald({ base: env.peer.base });
    const before = b.stats();
    const batch = makeBatch(daemon, 3);
    await b.write(batch.batch);
    expect(b.stats().reconnects).toBeGreaterThan(before.reconnects);
    const records = await waitForJournal(env.peer, [`LOGSTREAM_DAEMON=${daemon}`], (r) => r.length >= 3);
    expect(records.map((r) => r.LOGSTREAM_ID as string).sort()).toEqual(batch.entries.map((e) => e.id).sort());
  });
});
