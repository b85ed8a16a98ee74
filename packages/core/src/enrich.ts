import { randomUUID } from 'node:crypto';
import { nowIso, type LogEntry, type LogEntryInput } from '@logstream/protocol';

const CANONICAL_KEYS = ['id', 'timestamp', 'level', 'daemon', 'message', 'fields', 'pid', 'hostname'];

/** Defaults the server fills in for what an entry leaves out. */
export interface EnrichDefaults {
  daemon: string;
  hostname: string;
}

/**
 * Completes a checked entry: id, timestamp, level (6), daemon, fields, pid, hostname.
 * Returns the entry and whether the input was already complete in canonical key order with a
 * numeric level, in which case its original bytes are its canonical encoding (zero-copy).
 */
export function completeEntry(
  input: LogEntryInput,
  defaults: EnrichDefaults,
  levelWasNumber: boolean,
): { entry: LogEntry; canonical: boolean } {
  const keys = Object.keys(input);
  let canonical = levelWasNumber && keys.length === CANONICAL_KEYS.length;
  if (canonical) {
    for (let i = 0; i < keys.length; i++) {
      if (keys[i] !== CANONICAL_KEYS[i]) {
        canonical = false;
        break;
      }
    }
  }
  if (canonical) return { entry: input as LogEntry, canonical: true };
  return {
    entry: {
      id: input.id ?? randomUUID(),
      timestamp: input.timestamp ?? nowIso(),
      level: input.level ?? 6,
      daemon: input.daemon ?? defaults.daemon,
      message: input.message,
      fields: input.fields ?? {},
      pid: input.pid ?? null,
      hostname: input.hostname ?? defaults.hostname,
    },
    canonical: false,
  };
}
