import { randomUUID } from 'node:crypto';
import { nowIso, type LogEntry, type LogEntryInput } from '@logstream/protocol';

/** Defaults the server fills in for what an entry leaves out. */
export interface EnrichDefaults {
  daemon: string;
  hostname: string;
}

/**
 * Completes a checked entry: what it leaves out of id, timestamp, level (6), daemon, fields,
 * pid (null) and hostname is filled in; an explicit `"hostname":null` stays null. The
 * server stores the result's canonical encoding (`encodeEntry`), never the bytes it was parsed
 * from: those may have spaces, escapes or a key twice, which a reader would see differently.
 */
export function completeEntry(input: LogEntryInput, defaults: EnrichDefaults): { entry: LogEntry } {
  return {
    entry: {
      id: input.id ?? randomUUID(),
      timestamp: input.timestamp ?? nowIso(),
      level: input.level ?? 6,
      daemon: input.daemon ?? defaults.daemon,
      message: input.message,
      fields: input.fields ?? {},
      pid: input.pid ?? null,
      // An explicit null (unknown) is kept, as the fast path keeps it: only a missing one is filled.
      hostname: input.hostname === undefined ? defaults.hostname : input.hostname,
    },
  };
}
