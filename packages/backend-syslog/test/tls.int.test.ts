import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer, type Server, type TLSSocket } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EntryBatch, type LogEntry } from '@logstream/protocol';
import { SyslogBackend } from '../src/index';
import { until } from '@logstream/test-support';

// A real TLS peer in this process (node:tls with certificates made by openssl here), for what
// rsyslog's gtls test in rsyslog.int.test.ts does not cover: verification failures and
// client certificates (mutual TLS).
let dir: string;
let files: Record<'ca' | 'serverKey' | 'serverCert' | 'clientKey' | 'clientCert', string>;

function openssl(...args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ls-tls-'));
  openssl(
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-days',
    '2',
    '-subj',
    '/CN=test CA',
    '-keyout',
    'ca.key',
    '-out',
    'ca.pem',
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
  );
  for (const [name, ext] of [
    ['server', 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n'],
    ['client', 'extendedKeyUsage=clientAuth\n'],
  ] as const) {
    await writeFile(join(dir, `${name}.ext`), ext);
    openssl('req', '-newkey', 'rsa:2048', '-nodes', '-subj', `/CN=${name}`, '-keyout', `${name}.key`, '-out', `${name}.csr`);
    openssl(
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      '-CA',
      'ca.pem',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-days',
      '2',
      '-extfile',
      `${name}.ext`,
      '-out',
      `${name}.pem`,
    );
  }
  files = {
    ca: join(dir, 'ca.pem'),
    serverKey: join(dir, 'server.key'),
    serverCert: join(dir, 'server.pem'),
    clientKey: join(dir, 'client.key'),
    clientCert: join(dir, 'client.pem'),
  };
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A TLS syslog receiver that parses octet-counted frames (RFC 5425) and records the peer's identity. */
async function receiver(requestCert: boolean) {
  const frames: string[] = [];
  const clients: { authorized: boolean; cn: string | undefined }[] = [];
  const sockets = new Set<TLSSocket>();
  const server: Server = createServer(
    {
      key: await readFile(files.serverKey),
      cert: await readFile(files.serverCert),
      ca: await readFile(files.ca),
      requestCert,
      rejectUnauthorized: requestCert,
    },
    (socket) => {
      sockets.add(socket);
      const cert = socket.getPeerCertificate();
      const cn = cert?.subject?.CN;
      clients.push({ authorized: socket.authorized, cn: Array.isArray(cn) ? cn[0] : cn });
      let buf = Buffer.alloc(0);
      socket.on('data', (chunk: Buffer) => {
        buf = Buffer.concat([buf, chunk]);
        for (;;) {
          const sp = buf.indexOf(0x20);
          if (sp < 0) break;
          const len = Number(buf.subarray(0, sp).toString());
          if (buf.length < sp + 1 + len) break;
          frames.push(buf.subarray(sp + 1, sp + 1 + len).toString('utf8'));
          buf = buf.subarray(sp + 1 + len);
        }
      });
      socket.on('error', () => {});
      socket.on('close', () => sockets.delete(socket));
    },
  );
  server.on('tlsClientError', () => {});
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return {
    port,
    frames,
    clients,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

function entries(run: string, n: number): EntryBatch {
  const list: LogEntry[] = Array.from({ length: n }, (_, i) => ({
    id: randomUUID(),
    timestamp: '2024-01-15T10:30:45.123Z',
    level: 3,
    daemon: 'tls-app',
    message: `${run} #${i} multi\nline \u00e9`,
    fields: { k: 'v]"\\' },
    pid: 9,
    hostname: 'h',
  }));
  return EntryBatch.fromEntries(list);
}

describe('SyslogBackend over TLS (node:tls peer)', () => {
  it('presents a client certificate to a server that requires one (mutual TLS)', async () => {
    const r = await receiver(true);
    const run = randomUUID();
    const backend = new SyslogBackend({
      server: `tls://localhost:${r.port}`,
      tls: { ca: files.ca, cert: files.clientCert, key: files.clientKey },
    });
    try {
      await backend.open();
      await backend.write(entries(run, 10));
      await until(() => r.frames.length >= 10, 20_000, 'ten frames');
      expect(r.clients[0]).toEqual({ authorized: true, cn: 'client' });
      expect(r.frames[0]).toBe(
        `<11>1 2024-01-15T10:30:45.123Z h tls-app 9 - [logstream@32473 k="v\\]\\"\\\\"] ${run} #0 multi\nline \u00e9`,
      );
    } finally {
      await backend.close();
      await r.close();
    }
  });

  it('refuses a server it cannot verify, counts it, and connects once told not to verify', async () => {
    const r = await receiver(false);
    const strict = new SyslogBackend({ server: `tls://127.0.0.1:${r.port}`, flushTimeoutMs: 200 });
    const errors: Error[] = [];
    strict.on('error', (e) => errors.push(e));
    const lax = new SyslogBackend({ server: `tls://127.0.0.1:${r.port}`, tls: { rejectUnauthorized: false } });
    try {
      await strict.open();
      await until(() => (strict.stats().connect_errors as number) >= 1, 20_000, 'a refused handshake');
      expect(strict.connected).toBe(false);
      expect((errors[0] as NodeJS.ErrnoException).code).toMatch(/CERT|SIGNATURE|SELF_SIGNED|UNABLE_TO_VERIFY/);
      const run = randomUUID();
      await lax.open();
      await lax.write(entries(run, 3));
      await until(() => r.frames.filter((f) => f.includes(run)).length === 3, 20_000, 'three frames');
    } finally {
      await strict.close();
      await lax.close();
      await r.close();
    }
  });

  it('names an unreadable TLS file as a configuration error at open()', async () => {
    const missing = join(dir, 'nope.pem');
    const backend = new SyslogBackend({ server: 'tls://127.0.0.1:6514', tls: { ca: missing } });
    await expect(backend.open()).rejects.toMatchObject({ kind: 'config', message: expect.stringContaining(missing) });
    await backend.close();
  });
});
