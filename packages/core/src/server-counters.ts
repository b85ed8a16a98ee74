// Owns the shape of the server's counters (read by metrics at scrape time).
import type { LogStreamErrorKind } from '@logstream/protocol';

/** Counters for metrics, read at scrape time. */
export interface ServerCounters {
  connectionsTotal: number;
  connectionsRejected: number;
  messagesReceived: number;
  messagesProcessed: number;
  duplicatesDropped: number;
  bytesReceived: number;
  errors: Record<LogStreamErrorKind, number>;
  socketPauses: number;
  /** Entries received, acknowledged and not stored, by reason (`rate_limited`: see `rateLimitBurst`). */
  intakeDropped: Record<IntakeDropReason, number>;
}

/** Why the server dropped an entry before any backend saw it (see `ServerCounters.intakeDropped`). */
export type IntakeDropReason = 'rate_limited';

/** Counters all at 0. */
export function newServerCounters(): ServerCounters {
  return {
    connectionsTotal: 0,
    connectionsRejected: 0,
    messagesReceived: 0,
    messagesProcessed: 0,
    duplicatesDropped: 0,
    bytesReceived: 0,
    errors: { io: 0, serde: 0, config: 0, server: 0, client: 0, connection: 0 },
    socketPauses: 0,
    intakeDropped: { rate_limited: 0 },
  };
}
