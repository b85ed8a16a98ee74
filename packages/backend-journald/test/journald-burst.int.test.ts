// A burst far larger than journald's socket queue arrives complete: congestion makes the backend
// wait, never drop.
import { describe, expect, it } from 'vitest';
import { makeBatch, uniqueDaemon } from './helpers/entries';
import { journaldUnavailableReason, waitForJournal } from '@logstream/test-support';
import { useJournaldBackend } from './helpers/journald-suite';

const unavailable = journaldUnavailableReason();
const COUNT = 20_000;

describe.skipIf(unavailable !== undefined)(
  `a burst into a real journald${unavailable === undefined ? '' : ` (skipped: ${unavailable})`}`,
  () => {
    const env = useJournaldBackend();

    it(`stores all ${COUNT} entries of one batch, each once`, async () => {
      const b = env.backend;
      const daemon = uniqueDaemon('burst');
      const { batch, entries } = makeBatch(daemon, COUNT, 200);
      await b.write(batch);
      expect(b.stats()).toMatchObject({ entries_sent: COUNT, send_errors: 0 });

      const records = await waitForJournal(env.peer, [`LOGSTREAM_DAEMON=${daemon}`], (r) => r.length >= COUNT, {
        outputFields: ['LOGSTREAM_ID'],
        timeoutMs: 45_000,
      });
      const ids = records.map((r) => r.LOGSTREAM_ID as string);
      expect(ids).toHaveLength(COUNT);
      expect(new Set(ids)).toEqual(new Set(entries.map((e) => e.id)));
    });
  },
);
