// Rotating file writer: write rate with rotation off, with rotation only, and with gzip / lz4
// compression of rotated files running in the background; and the compression rate itself.
// Each configuration runs 3 times; the table shows medians.
import { tmpdir } from 'node:os';
import { RotatingFileWriter } from '../../packages/rotator/dist/index.js';
import { makeTempDir, removeTempDir } from '../lib/procs.mjs';
import { median } from '../lib/stats.mjs';

const LINE_BYTES = 213;
const LINES_PER_BATCH = 256;
const TOTAL_BYTES = 384 * 1024 * 1024;
const MAX_FILE_BYTES = 32 * 1024 * 1024;
const RUNS = 3;

function makeBatches(count) {
  // Entries shaped like the server's JSON lines, with varying ids, pids and user ids so that
  // they compress like real logs rather than like repeated bytes.
  const batches = [];
  let n = 0;
  for (let b = 0; b < count; b++) {
    let text = '';
    for (let i = 0; i < LINES_PER_BATCH; i++, n++) {
      const id = ((n * 2654435761) >>> 0).toString(16).padStart(8, '0');
      let line = `{"id":"${id}-0000-4000-8000-${String(n).padStart(12, '0')}","timestamp":"2026-11-24T19:30:${String(n % 60).padStart(2, '0')}.${String(n % 1000).padStart(3, '0')}Z","level":6,"daemon":"web-server","message":"request handled","fields":{"user_id":"${n % 9973}"},"pid":${1000 + (n % 50)},"hostname":"server01"}`;
      line = line.padEnd(LINE_BYTES - 1, ' ').slice(0, LINE_BYTES - 1);
      text += `${line}\n`;
    }
    batches.push(Buffer.from(text));
  }
  return batches;
}

async function once(mode, batches) {
  const dir = makeTempDir('ls-bench-rot-');
  const writer = new RotatingFileWriter({
    directory: dir,
    maxFileBytes: MAX_FILE_BYTES,
    rotation: { enabled: mode !== 'off', keepFiles: 100 },
    compression: mode === 'gzip' || mode === 'lz4' ? mode : 'none',
  });
  try {
    await writer.open();
    const batchBytes = batches[0].length;
    const writes = Math.ceil(TOTAL_BYTES / batchBytes);
    const started = process.hrtime.bigint();
    for (let i = 0; i < writes; i++) await writer.write(batches[i % batches.length]);
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    await writer.whenIdle();
    const s = writer.stats();
    return {
      mbps: s.bytes_written / 1e6 / seconds,
      lps: s.bytes_written / LINE_BYTES / seconds,
      compressMbps: s.compression_ms_total > 0 ? s.compressed_bytes_in / 1e6 / (s.compression_ms_total / 1000) : NaN,
      ratio: s.compressed_bytes_out > 0 ? s.compressed_bytes_in / s.compressed_bytes_out : NaN,
      rotations: s.rotations,
      compressions: s.compressions,
    };
  } finally {
    await writer.close();
    removeTempDir(dir);
  }
}

export async function run() {
  const batches = makeBatches(512);
  const modes = ['off', 'rotate', 'gzip', 'lz4'];
  const results = Object.fromEntries(modes.map((m) => [m, []]));
  // Interleaved, so that a noisy moment does not land on one configuration only.
  for (let r = 0; r < RUNS; r++) for (const mode of modes) results[mode].push(await once(mode, batches));
  const base = median(results.off.map((x) => x.mbps));
  const rows = modes.map((mode) => {
    const xs = results[mode];
    const mbps = median(xs.map((x) => x.mbps));
    return [
      mode === 'off' ? 'rotation off' : mode === 'rotate' ? 'rotation, no compression' : `rotation + ${mode}`,
      mbps,
      median(xs.map((x) => x.lps)),
      `${(mbps / base).toFixed(2)}x`,
      mode === 'gzip' || mode === 'lz4' ? median(xs.map((x) => x.compressMbps)) : '-',
      mode === 'gzip' || mode === 'lz4' ? `${median(xs.map((x) => x.ratio)).toFixed(2)}:1` : '-',
      median(xs.map((x) => x.rotations)),
    ];
  });
  return {
    title: 'rotator: write rate with rotation and background compression',
    columns: ['configuration', 'write MB/s', 'lines/s', 'vs off', 'compress MB/s', 'ratio', 'rotations'],
    rows,
    notes: [
      `${TOTAL_BYTES / 2 ** 20} MiB per run in writes of ${LINES_PER_BATCH} lines of ${LINE_BYTES} bytes, ` +
        `max file ${MAX_FILE_BYTES / 2 ** 20} MiB, sync none, to ${tmpdir()}; medians of ${RUNS} runs.`,
      'Write MB/s counts only the time until the last write resolved; compression runs in the ' +
        'background and is timed by the writer (compression_ms_total).',
    ],
  };
}
