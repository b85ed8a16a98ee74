import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { EntryBatch, formatStructuredData, type LogEntry } from '@logstream/protocol';
import { SyslogBackend, type SyslogBackendOptions } from '../src/index';
import { startRsyslog, type RsyslogMessage, type RsyslogPeer } from '@logstream/test-support';

// One real rsyslogd for the file (UDP, TCP, imptcp, TLS and the unix socket); each test tags
// its messages with a unique run id and looks only at those.
let peer: RsyslogPeer;
let tlsUnavailable: unknown;
const backends: SyslogBackend[] = [];

beforeAll(async () => {
  try {
    peer = await startRsyslog({ tls: true });
  } catch (error) {
    // rsyslog-gnutls missing and not installable (no root, no network): run the rest without TLS.
    tlsUnavailable = error;
    console.warn(`rsyslog TLS input unavailable, skipping the gtls test: ${String(error)}`);
    peer = await startRsyslog();
  }
});

afterEach(async () => {
  await Promise.all(backends.splice(0).map((b) => b.close()));
});

afterAll(async () => {
  await peer?.stop();
});

function makeBackend(options: SyslogBackendOptions): SyslogBackend {
  const backend = new SyslogBackend({ flushTimeoutMs: 5000, ...options });
  backends.push(backend);
  return backend;
}

const TRICKY_MESSAGE = 'h\u00e9llo \u4e16\u754c "quoted" [bracketed] back\\slash ]\nsecond line\twith tab';
const TRICKY_FIELDS = {
  user_id: '12345',
  'quote"key': 'va"lue',
  path: 'C:\\dir\\x]y',
  multi: 'line one\nline two',
  '\u043a\u043b\u044e\u0447': '\u0437\u043d\u0430\u0447\u0435\u043d\u0438\u0435',
  'with space=eq': '[x]',
};

function entries(run: string, n: number, over: Partial<LogEntry> = {}): LogEntry[] {
  return Array.from({ length: n }, (_, i) => ({
    id: randomUUID(),
    timestamp: '2024-01-15T10:30:45.123Z',
    level: (i % 8) as LogEntry['level'],
    daemon: 'web-server',
    message: `${run} #${i} ${TRICKY_MESSAGE}`,
    fields: { ...TRICKY_FIELDS, seq: String(i) },
    pid: 4242,
    hostname: 'server01',
    ...over,
  }));
}

async function received(run: string, n: number): Promise<RsyslogMessage[]> {
  const all = await peer.waitFor((ms) => ms.filter((m) => m.msg.includes(run)).length >= n);
  return all.filter((m) => m.msg.includes(run));
}

/** Checks every field rsyslog parsed out of an RFC 5424 message sent by the backend. */
function expectRfc5424(got: RsyslogMessage[], sent: LogEntry[], facility: number, inputname: string): void {
  expect(got).toHaveLength(sent.length);
  const bySeq = new Map(got.map((m) => [Number(/ #(\d+) /.exec(m.msg)?.[1]), m]));
  for (const [i, e] of sent.entries()) {
    const m = bySeq.get(i);
    expect(m, `message #${i}`).toBeDefined();
    expect(m).toMatchObject({
      pri: String(facility * 8 + e.level),
      'protocol-version': '1',
      hostname: 'server01',
      'app-name': 'web-server',
      procid: '4242',
      msgid: 'REQ',
      msg: e.message,
      'structured-data': formatStructuredData(e.fields),
      inputname,
    });
    expect(m?.timereported).toMatch(/^2024-01-15T10:30:45\.123(Z|\+00:00)$/);
  }
}

/**
 * Opens a backend, sends `count` entries of a fresh run through it, flushes, and checks what
 * rsyslog parsed as RFC 5424; returns the backend for the caller's stats() checks.
 */
async function sendAndCheck(options: SyslogBackendOptions, count: number, facility: number, inputname: string): Promise<SyslogBackend> {
  const run = randomUUID();
  const backend = makeBackend(options);
  await backend.open();
  const sent = entries(run, count);
  await backend.write(EntryBatch.fromEntries(sent));
  await backend.flush();
  expectRfc5424(await received(run, sent.length), sent, facility, inputname);
  return backend;
}

describe('SyslogBackend against a real rsyslogd', () => {
  it('sends RFC 5424 over TCP with octet counting (imtcp and imptcp)', async () => {
    for (const [port, inputname] of [
      [peer.tcpPort, 'imtcp'],
      [peer.ptcpPort, 'imptcp'],
    ] as const) {
      const backend = await sendAndCheck({ server: `tcp://127.0.0.1:${port}`, facility: 'local3', msgId: 'REQ' }, 40, 19, inputname);
      expect(backend.stats()).toMatchObject({ sent: 40, dropped_aborted: 0, dropped_on_close: 0, send_errors: 0, possibly_lost: 0 });
    }
  });

  it('sends RFC 5424 over UDP', async () => {
    const backend = await sendAndCheck({ server: `udp://127.0.0.1:${peer.udpPort}`, facility: 'LOG_DAEMON', msgId: 'REQ' }, 20, 3, 'imudp');
    expect(backend.stats()).toMatchObject({ sent: 20, send_errors: 0 });
  });

  it('sends RFC 5424 to a local datagram socket (imuxsock, like /dev/log)', async () => {
    await sendAndCheck({ socketPath: peer.socket, format: 'rfc5424', facility: 0, msgId: 'REQ' }, 30, 0, 'imuxsock');
  });

  it('sends RFC 5424 over TLS to rsyslog (gtls driver) with the CA that signed its certificate', async (ctx) => {
    if (tlsUnavailable !== undefined) {
      // In CI a skipped real-peer test would hide a gap: a green run must mean TLS was tested.
      if (process.env.CI)
        throw new Error(
          `CI: rsyslog's TLS listener is unavailable: ${tlsUnavailable instanceof Error ? tlsUnavailable.message : JSON.stringify(tlsUnavailable)}`,
        );
      ctx.skip();
    }
    const backend = await sendAndCheck(
      { server: `tls://localhost:${peer.tlsPort}`, tls: { ca: peer.tlsCa }, facility: 'local7', msgId: 'REQ' },
      25,
      23,
      'imtcp',
    );
    expect(backend.stats()).toMatchObject({ sent: 25, connect_errors: 0 });
  });

  it('uses LF framing on request, escaping embedded newlines as #012', async () => {
    const run = randomUUID();
    const backend = makeBackend({ server: `tcp://127.0.0.1:${peer.tcpPort}`, framing: 'lf', msgId: 'REQ' });
    await backend.open();
    const sent = entries(run, 10);
    await backend.write(EntryBatch.fromEntries(sent));
    await backend.flush();
    const got = await received(run, sent.length);
    expect(got).toHaveLength(10);
    for (const m of got) {
      expect(m.msg).toContain(`"quoted" [bracketed] back\\slash ]#012second line\twith tab`);
      expect(m['structured-data']).toContain('multi="line one#012line two"');
    }
  });

  it('sends RFC 3164 (TAG[PID]: MSG) over the local socket (the default there, no HOSTNAME) and TCP', async () => {
    for (const options of [{ socketPath: peer.socket }, { server: `tcp://127.0.0.1:${peer.tcpPort}`, format: 'rfc3164' as const }]) {
      const run = randomUUID();
      const backend = makeBackend({ ...options, facility: 'mail' });
      expect(backend.format).toBe('rfc3164');
      await backend.open();
      const sent = entries(run, 5, { timestamp: new Date().toISOString() });
      await backend.write(EntryBatch.fromEntries(sent));
      await backend.flush();
      const got = await received(run, 5);
      expect(got).toHaveLength(5);
      for (const m of got) {
        const i = Number(/ #(\d+) /.exec(m.msg)?.[1]);
        expect(m).toMatchObject({ pri: String(2 * 8 + (i % 8)), 'app-name': 'web-server', procid: '4242' });
        // The local form has no HOSTNAME: rsyslog fills in its own.
        if (options.server !== undefined) expect(m.hostname).toBe('server01');
        else expect(m.hostname).not.toBe('web-server');
        expect(m.syslogtag).toBe('web-server[4242]:');
        expect(m.msg.trimStart()).toBe(sent[i]?.message);
      }
    }
  });

  it('sends the trusted peer pid as PROCID / [PID] (the entry pid when the server could not read it)', async () => {
    for (const options of [{ server: `tcp://127.0.0.1:${peer.tcpPort}` }, { socketPath: peer.socket }]) {
      const run = randomUUID();
      const backend = makeBackend(options);
      await backend.open();
      const [known, unknown] = entries(run, 2);
      const sent = [
        { ...(known as LogEntry), peer: { pid: 31337, uid: 1000, gid: 1000, comm: 'web' } },
        { ...(unknown as LogEntry), peer: null },
      ];
      await backend.write(EntryBatch.fromEntries(sent));
      await backend.flush();
      const got = await received(run, 2);
      const procid = new Map(got.map((m) => [Number(/ #(\d+) /.exec(m.msg)?.[1]), m.procid]));
      expect(procid).toEqual(
        new Map([
          [0, '31337'],
          [1, '4242'],
        ]),
      );
    }
  });

  it('cuts an oversized message at a character boundary and counts it', async () => {
    const run = randomUUID();
    const backend = makeBackend({ server: `tcp://127.0.0.1:${peer.tcpPort}`, maxMessageBytes: 1000 });
    await backend.open();
    const big = entries(run, 1, { message: `${run} #0 ${'\u00e9'.repeat(2000)}`, fields: {} });
    await backend.write(EntryBatch.fromEntries(big));
    await backend.flush();
    const [m] = await received(run, 1);
    expect(Buffer.byteLength(m?.rawmsg ?? '')).toBeLessThanOrEqual(1000);
    expect(m?.msg).toMatch(/^[^\ufffd]*\u00e9$/);
    expect(backend.stats().truncated).toBe(1);
  });
});
