import { randomUUID } from 'node:crypto';
import { connect } from 'nats';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { EntryBatch, type LogEntry } from '@logstream/protocol';
import { NatsBackend, type NatsBackendOptions } from '../src/index';
import { readStream, startNatsCluster, until, type NatsCluster } from '@logstream/test-support';

// One real 3-node JetStream cluster for the file; each test uses streams and subjects of its own.
let cluster: NatsCluster;
const backends: NatsBackend[] = [];

beforeAll(async () => {
  cluster = await startNatsCluster(3);
}, 180_000);

afterEach(async () => {
  await Promise.all(backends.splice(0).map((b) => b.close()));
});

afterAll(async () => {
  await cluster?.stop();
});

function backend(options: Partial<NatsBackendOptions>): NatsBackend {
  const b = new NatsBackend({ servers: cluster.urls, publishTimeoutMs: 5000, ...options });
  backends.push(b);
  return b;
}

function entries(n: number, over: Partial<LogEntry> = {}): LogEntry[] {
  return Array.from({ length: n }, (_, i) => ({
    id: randomUUID(),
    timestamp: new Date().toISOString(),
    level: 6,
    daemon: 'web',
    message: `m${i}`,
    fields: { i: String(i) },
    pid: 1,
    hostname: 'h',
    ...over,
  }));
}

const write = (b: NatsBackend, batch: EntryBatch, attempt = 1) => b.write(batch, { signal: new AbortController().signal, attempt });

describe('NatsBackend on a real 3-node JetStream cluster', () => {
  it('creates an R3 stream, publishes each stored line with its id as Nats-Msg-Id on <prefix>.<daemon token>', async () => {
    const b = backend({ stream: 'T_BASIC', subjectPrefix: 'basic.logs', replicas: 3 });
    const reports: Error[] = [];
    await b.open({ reportError: (e) => reports.push(e) });
    const batch = EntryBatch.fromEntries([
      ...entries(300),
      ...entries(2, { daemon: 'my app.v2*>' }),
      ...entries(1, { daemon: 'd\u00e9mon' }),
    ]);
    await write(b, batch);
    expect(b.stats()).toMatchObject({ published: 303, duplicates: 0, lag_entries: 0 });
    const stored = await readStream(cluster.urls, 'T_BASIC');
    expect(stored).toHaveLength(303);
    stored.forEach((m, i) => {
      // Payload: the very line LogStream stored; header: the entry id.
      expect(m.data).toBe((batch.lines[i] as Buffer).toString());
      expect(m.msgId).toBe(batch.entries()[i]?.id);
    });
    expect(new Set(stored.map((m) => m.subject))).toEqual(new Set(['basic.logs.web', 'basic.logs.my_app_v2__', 'basic.logs.d_mon']));
    const nc = await connect({ servers: cluster.urls });
    const info = await (await nc.jetstreamManager()).streams.info('T_BASIC');
    await nc.close();
    expect(info.config.num_replicas).toBe(3);
    expect(info.config.subjects).toEqual(['basic.logs.>']);
    expect(reports).toEqual([]);
  });

  it('a batch written again (a retry of the same object, or a resend after a crash) is stored once: PubAcks say duplicate', async () => {
    const b = backend({ stream: 'T_DUP', subjectPrefix: 'dup' });
    await b.open();
    const list = entries(500);
    const batch = EntryBatch.fromEntries(list);
    await write(b, batch);
    // The same entries in a new batch object (what a client resends after a server crash).
    await write(b, EntryBatch.fromEntries(list), 2);
    expect(b.stats()).toMatchObject({ published: 500, duplicates: 500 });
    // The same batch object again: everything was acknowledged already, nothing is sent.
    await write(b, batch, 3);
    expect(b.stats()).toMatchObject({ published: 500, duplicates: 500 });
    const stored = await readStream(cluster.urls, 'T_DUP');
    expect(stored).toHaveLength(500);
    expect(new Set(stored.map((m) => m.msgId)).size).toBe(500);
  });

  it('an aborted write rejects with the signal reason; its retry publishes only what was not acknowledged', async () => {
    const b = backend({ stream: 'T_ABORT', subjectPrefix: 'abort', maxInflight: 4 });
    await b.open();
    const batch = EntryBatch.fromEntries(entries(4000));
    const controller = new AbortController();
    const reason = new Error('given up');
    const pending = b.write(batch, { signal: controller.signal, attempt: 1 });
    await until(() => b.stats().published >= 100, 30_000, '100 entries acknowledged');
    controller.abort(reason);
    await expect(pending).rejects.toBe(reason);
    const first = b.stats().published;
    expect(first).toBeLessThan(4000);
    expect(b.stats().lag_entries).toBe(4000 - first);
    await write(b, batch, 2);
    // Every entry once; the retry re-sent only those not acknowledged (no duplicate PubAcks
    // beyond the few that were in flight at the abort).
    expect(b.stats().published).toBe(4000);
    expect(b.stats().duplicates).toBeLessThanOrEqual(4);
    expect(await readStream(cluster.urls, 'T_ABORT')).toHaveLength(4000);
  });

  it('a stream that cannot be created (its subjects overlap another stream) is a start-up error naming the stream', async () => {
    const owner = backend({ stream: 'T_OWNER', subjectPrefix: 'overlap' });
    await owner.open();
    const b = backend({ stream: 'T_CLASH', subjectPrefix: 'overlap' });
    await expect(b.open()).rejects.toThrow(/^nats: stream T_CLASH: cannot create it with subjects "overlap\.>".*overlap/);
  });

  it('an existing stream that does not take the subjects is a start-up error naming it', async () => {
    const nc = await connect({ servers: cluster.urls });
    await (await nc.jetstreamManager()).streams.add({ name: 'T_OTHER', subjects: ['elsewhere.>'] });
    await nc.close();
    const b = backend({ stream: 'T_OTHER', subjectPrefix: 'mine' });
    await expect(b.open()).rejects.toThrow('nats: stream T_OTHER: exists but does not take subjects "mine.>" (its subjects: elsewhere.>)');
  });

  it('bad names are refused at construction with a one-line error', () => {
    expect(() => new NatsBackend({ servers: cluster.urls, stream: 'a.b' })).toThrow('nats: stream "a.b" is not a stream name');
    expect(() => new NatsBackend({ servers: cluster.urls, subjectPrefix: 'logs.*' })).toThrow(
      'nats: subjectPrefix "logs.*" is not a literal subject',
    );
  });
});

describe('NatsBackend when the cluster is down at start', () => {
  it('open() resolves and reports; writes fail until the cluster is up, then the same batch is stored', async () => {
    const down = await startNatsCluster(3);
    try {
      for (let i = 0; i < 3; i++) await down.kill(i);
      const reports: Error[] = [];
      const b = new NatsBackend({ servers: down.urls, stream: 'T_LATE', replicas: 3, connectTimeoutMs: 1000 });
      backends.push(b);
      await b.open({ reportError: (e) => reports.push(e) });
      expect(reports[0]?.message).toMatch(/^nats: cannot reach nats:\/\/127\.0\.0\.1:\d+.*connecting in the background/);
      const batch = EntryBatch.fromEntries(entries(50));
      await expect(write(b, batch)).rejects.toThrow(/cannot reach/);
      for (let i = 0; i < 3; i++) await down.restart(i);
      // What the server's route does: retry the same batch until it is stored.
      await until(
        () =>
          write(b, batch, 2).then(
            () => true,
            () => false,
          ),
        60_000,
        'the write to succeed once the cluster is up',
      );
      expect(b.stats().published).toBe(50);
      expect(await readStream(down.urls, 'T_LATE')).toHaveLength(50);
    } finally {
      await down.stop();
    }
  });
});

describe('NatsBackend with a user that may not create streams', () => {
  it('open() rejects naming the stream and the missing permission', async () => {
    const auth = `authorization {
  users = [
    { user: admin, password: adminpw }
    { user: limited, password: limitedpw, permissions: { publish: { deny: ["$JS.API.STREAM.CREATE.>"] } } }
  ]
}`;
    const locked = await startNatsCluster(3, auth);
    try {
      const b = new NatsBackend({ servers: locked.urls, stream: 'T_PERM', user: 'limited', pass: 'limitedpw', connectTimeoutMs: 3000 });
      backends.push(b);
      await expect(b.open()).rejects.toThrow(
        /^nats: stream T_PERM: cannot create it with subjects "logs\.>" and 1 replica\(s\): .*Permissions Violation/i,
      );
      // The same cluster with a user that may: the stream is made and entries go in.
      const ok = new NatsBackend({ servers: locked.urls, stream: 'T_PERM', user: 'admin', pass: 'adminpw' });
      backends.push(ok);
      await ok.open();
      await write(ok, EntryBatch.fromEntries(entries(10)));
      expect(ok.stats().published).toBe(10);
    } finally {
      await locked.stop();
    }
  });
});
