// A private rsyslogd as a real syslog peer (peers/start-rsyslog.sh).
import { readFile } from 'node:fs/promises';
import { runStartScript, stopPeer } from './peer-scripts';

/** One message as rsyslog's `%jsonmesg%` renders it (the keys the tests use). */
export interface RsyslogMessage {
  msg: string;
  rawmsg: string;
  hostname: string;
  'app-name': string;
  procid: string;
  msgid: string;
  'structured-data': string;
  syslogtag: string;
  pri: string;
  syslogfacility: string;
  syslogseverity: string;
  timereported: string;
  inputname: string;
  'protocol-version': string;
  [key: string]: string;
}

/** Options of {@link startRsyslog}. */
export interface StartRsyslogOptions {
  /** Also listen with TLS (rsyslog's gtls driver; installs rsyslog-gnutls when missing). */
  tls?: boolean;
}

/**
 * A private rsyslogd started by `peers/start-rsyslog.sh` (installs rsyslog with apt-get when it
 * is missing), listening on 127.0.0.1 on kernel-chosen ports and on a unix datagram socket.
 */
export class RsyslogPeer {
  env: Record<string, string>;
  readonly #tls: boolean;

  constructor(env: Record<string, string>, tls: boolean) {
    this.env = env;
    this.#tls = tls;
  }

  get pid(): number {
    return Number(this.env.RSYSLOG_PID);
  }
  get udpPort(): number {
    return Number(this.env.RSYSLOG_UDP_PORT);
  }
  get tcpPort(): number {
    return Number(this.env.RSYSLOG_TCP_PORT);
  }
  get ptcpPort(): number {
    return Number(this.env.RSYSLOG_PTCP_PORT);
  }
  get tlsPort(): number {
    return Number(this.env.RSYSLOG_TLS_PORT);
  }
  /** CA certificate (PEM file) that signed the TLS input's certificate. */
  get tlsCa(): string {
    return this.env.RSYSLOG_TLS_CA as string;
  }
  /** The imuxsock socket, a stand-in for /dev/log. */
  get socket(): string {
    return this.env.RSYSLOG_SOCKET as string;
  }
  get base(): string {
    return this.env.RSYSLOG_BASE as string;
  }

  /** Every message received so far, from `messages.jsonl` (one JSON object a line). */
  async messages(): Promise<RsyslogMessage[]> {
    const text = await readFile(this.env.RSYSLOG_JSON as string, 'utf8');
    const out: RsyslogMessage[] = [];
    // rsyslog may be writing as we read: only lines that end in a newline are complete.
    const lines = text.split('\n');
    lines.pop();
    for (const line of lines) if (line !== '') out.push(JSON.parse(line) as RsyslogMessage);
    return out;
  }

  /**
   * Polls `messages.jsonl` (rsyslog writes asynchronously) until `done(messages)` holds; after
   * `timeoutMs` returns what is there, so the test's assertion shows what arrived.
   */
  async waitFor(done: (messages: RsyslogMessage[]) => boolean, timeoutMs = 15_000): Promise<RsyslogMessage[]> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const messages = await this.messages();
      if (done(messages) || Date.now() > deadline) return messages;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  /** Stops rsyslogd (SIGTERM, by PID) and keeps its directory and output files. */
  async kill(): Promise<void> {
    await stopPeer('rsyslogd', [this.pid], this.base, { keepData: true });
  }

  /** Starts rsyslogd again in the same directory, on the same ports, after {@link kill}. */
  async start(): Promise<void> {
    this.env = await startScript(this.#tls, {
      RSYSLOG_REUSE_BASE: this.base,
      RSYSLOG_FIXED_UDP_PORT: String(this.udpPort),
      RSYSLOG_FIXED_TCP_PORT: String(this.tcpPort),
      RSYSLOG_FIXED_PTCP_PORT: String(this.ptcpPort),
      ...(this.#tls && { RSYSLOG_FIXED_TLS_PORT: String(this.tlsPort) }),
    });
  }

  /** Stops rsyslogd (by PID) and removes its directory; idempotent. */
  async stop(): Promise<void> {
    await stopPeer('rsyslogd', [this.pid], this.base);
  }
}

function startScript(tls: boolean, extra: Record<string, string> = {}): Promise<Record<string, string>> {
  return runStartScript('start-rsyslog.sh', [], {
    env: { ...(tls && { RSYSLOG_TLS: '1' }), ...extra },
    timeoutMs: 120_000,
    required: 'RSYSLOG_PID',
  });
}

/** Starts a private rsyslogd; stop it with {@link RsyslogPeer.stop}. */
export async function startRsyslog(options: StartRsyslogOptions = {}): Promise<RsyslogPeer> {
  const tls = options.tls === true;
  return new RsyslogPeer(await startScript(tls), tls);
}
