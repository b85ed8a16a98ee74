// Owns the Prometheus view of a RotatingFileWriter's counters: which are counters and which is a
// gauge (the live file's size), their names, help and units.
import { backendEventSamples, type BackendMetric } from '@logstream/protocol';
import type { RotatingFileWriterStats } from './rotating-file-writer';

type Key = keyof RotatingFileWriterStats;

/** Counters with a family of their own, with the factor that turns the stat into the metric's unit. */
const COUNTERS: Partial<Record<Key, { name: string; help: string; scale?: number }>> = {
  rotations: { name: 'logstream_rotations_total', help: 'Rotations of the live file.' },
  rotation_errors: { name: 'logstream_rotation_errors_total', help: 'Rotations (or directory scans) that failed; they are retried.' },
  compressions: { name: 'logstream_compressions_total', help: 'Rotated files compressed.' },
  compression_errors: { name: 'logstream_compression_errors_total', help: 'Compressions that failed; they are retried.' },
  compression_ms_total: { name: 'logstream_compression_seconds_total', help: 'Time spent compressing rotated files.', scale: 1 / 1000 },
  compressed_bytes_in: { name: 'logstream_compressed_bytes_in_total', help: 'Uncompressed bytes of the files compressed.' },
  compressed_bytes_out: { name: 'logstream_compressed_bytes_out_total', help: 'Compressed bytes written.' },
  files_deleted: { name: 'logstream_files_deleted_total', help: 'Rotated files deleted by retention (keep_files, max_age_hours).' },
  delete_errors: { name: 'logstream_file_delete_errors_total', help: 'Deletes of rotated files that failed; they are retried.' },
};

/**
 * The writer's counters as typed samples: the rotation, compression and retention counters
 * under their own names, `live_file_bytes` as the gauge `logstream_live_file_bytes`, and the
 * write counters (`bytes_written`, `writes`, `write_errors`, `slow_writes`) as events of
 * `logstream_backend_events_total`.
 */
export function writerMetrics(stats: RotatingFileWriterStats): BackendMetric[] {
  const samples: BackendMetric[] = [];
  const events: Record<string, number> = {};
  for (const [key, value] of Object.entries(stats) as [Key, number][]) {
    const counter = COUNTERS[key];
    if (counter !== undefined)
      samples.push({ name: counter.name, help: counter.help, type: 'counter', value: value * (counter.scale ?? 1) });
    else if (key === 'live_file_bytes')
      samples.push({ name: 'logstream_live_file_bytes', help: 'Size of the live file (current.log) now.', type: 'gauge', value });
    else events[key] = value;
  }
  return [...samples, ...backendEventSamples(events)];
}
