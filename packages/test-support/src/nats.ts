// A private NATS JetStream cluster as a real peer (peers/start-nats-cluster.sh), and reading it back.
import { spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { connect as tcpConnect } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { connect } from 'nats';
import { runStartScript, stopPeer } from './peer-scripts';
import { until } from './until';

/**
 * A private NATS JetStream cluster on 127.0.0.1 started by `peers/start-nats-cluster.sh` (installs
 * Debian's nats-server with apt-get when it is missing), one process per node.
 */
export class NatsCluster {
  readonly dir: string;
  readonly urls: string[];
  readonly ports: number[];
  readonly pids: number[];
  readonly #bin: string;
  readonly #confs: string[];

  constructor(env: Record<string, string>) {
    this.dir = env.NATS_DIR as string;
    this.#bin = env.NATS_BIN as string;
    this.urls = (env.NATS_URLS as string).split(',');
    this.ports = (env.NATS_PORTS as string).split(' ').map(Number);
    this.pids = (env.NATS_PIDS as string).split(' ').map(Number);
    this.#confs = this.urls.map((_, i) => env[`NATS_CONF_${i}`] as string);
  }

  /** SIGKILLs node `i` (by its PID) and waits until it is gone. */
  async kill(i: number): Promise<void> {
    const pid = this.pids[i] as number;
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      return;
    }
    await until(() => !alive(pid), 20_000, `nats node ${i} (pid ${pid}) to exit`);
  }

  /** Starts node `i` again with its config and store (after {@link kill}); waits for its port. */
  async restart(i: number): Promise<void> {
    const log = openSync(join(this.dir, `n${i}`, 'server.log'), 'a');
    try {
      const child = spawn(this.#bin, ['-c', this.#confs[i] as string], {
        detached: true,
        stdio: ['ignore', log, log],
        env: { ...process.env, LOGSTREAM_PEER_BASE: this.dir },
      });
      child.unref();
      this.pids[i] = child.pid as number;
    } finally {
      closeSync(log);
    }
    await waitForPort(this.ports[i] as number);
  }

  /** Stops every node (by PID) and removes the cluster's directory; idempotent. */
  async stop(): Promise<void> {
    await stopPeer('nats-server', this.pids, this.dir);
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  // A zombie (not reaped yet by its parent) is gone for our purposes.
  try {
    return !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, 'utf8'));
  } catch {
    return false;
  }
}

async function waitForPort(port: number, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = tcpConnect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nats node on port ${port} did not come up`);
    await sleep(100);
  }
}

/** Starts a cluster of `nodes` nodes; stop it with {@link NatsCluster.stop}. */
export async function startNatsCluster(nodes = 3, extraConf = ''): Promise<NatsCluster> {
  return new NatsCluster(
    await runStartScript('start-nats-cluster.sh', [String(nodes)], { env: { NATS_EXTRA_CONF: extraConf }, required: 'NATS_PIDS' }),
  );
}

/** One message of a stream as a JetStream consumer reads it back. */
export interface StoredMessage {
  seq: number;
  subject: string;
  msgId: string | undefined;
  data: string;
}

/**
 * Every message of `stream`, read back with an ordered JetStream consumer (what any consumer
 * of the fleet's logs would do), oldest first.
 */
export async function readStream(servers: string[], stream: string, timeoutMs = 60_000): Promise<StoredMessage[]> {
  const nc = await connect({ servers, timeout: 10_000 });
  try {
    const deadline = Date.now() + timeoutMs;
    // Right after a node restart the stream may have no leader for a moment.
    let total = -1;
    while (total < 0) {
      try {
        const jsm = await nc.jetstreamManager();
        total = (await jsm.streams.info(stream)).state.messages;
      } catch (error) {
        if (Date.now() > deadline) throw error;
        await sleep(200);
      }
    }
    const out: StoredMessage[] = [];
    if (total === 0) return out;
    const consumer = await nc.jetstream().consumers.get(stream);
    const messages = await consumer.consume({ max_messages: 1000 });
    for await (const m of messages) {
      out.push({ seq: m.seq, subject: m.subject, msgId: m.headers?.get('Nats-Msg-Id'), data: m.string() });
      if (m.info.pending === 0 || out.length >= total) break;
      if (Date.now() > deadline) throw new Error(`read ${out.length} of ${total} messages of ${stream} in ${timeoutMs} ms`);
    }
    await messages.close();
    return out;
  } finally {
    await nc.close();
  }
}

/** Creates a stream directly (e.g. one whose subjects clash with the backend's). */
export async function addStream(servers: string[], name: string, subjects: string[]): Promise<void> {
  const nc = await connect({ servers, timeout: 10_000 });
  try {
    await (await nc.jetstreamManager()).streams.add({ name, subjects });
  } finally {
    await nc.close();
  }
}

/** The index (0-based, as in the cluster's node list) of the node that leads `stream` now. */
export async function streamLeader(servers: string[], stream: string): Promise<number> {
  const nc = await connect({ servers, timeout: 10_000 });
  try {
    const info = await (await nc.jetstreamManager()).streams.info(stream);
    return Number((info.cluster?.leader ?? 'n0').replace(/^n/, ''));
  } finally {
    await nc.close();
  }
}
