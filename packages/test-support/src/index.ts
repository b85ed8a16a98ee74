export { until } from './until';
export { tempDir, useTempDir, type TempDir } from './temp-dir';
export { rawConnect, useRawConnections, type FrameLike, type RawConn } from './raw-connection';
export { peerScript, runStartScript, stopPeer } from './peer-scripts';
export { RsyslogPeer, startRsyslog, type RsyslogMessage, type StartRsyslogOptions } from './rsyslog';
export {
  journaldUnavailableReason,
  readJournal,
  startJournald,
  stopJournald,
  waitForJournal,
  type JournaldPeer,
  type JournalRecord,
} from './journald';
export { NatsCluster, addStream, readStream, startNatsCluster, streamLeader, type StoredMessage } from './nats';
export { SERVER_CLI, readEntries, runCli, startServer, useServerDir, type ServerProcess } from './server-process';
export { rotatingFileToml, type RotatingFileTomlOptions } from './server-config';
export { helpOf, metric, parseMetrics, scrapeMetrics, type MetricSample } from './prometheus-text';
export { CJS_CLIENT, ESM_CLIENT, linkPackages, runScript, type ScriptResult } from './script-runner';
export {
  HOSTILE_PIECES,
  TERMINAL_UNSAFE,
  decodeSyslogLine,
  expectOneSafeLine,
  hostileEntry,
  hostileString,
  sampleEntry,
  type SampleEntry,
} from './hostile-text';
export { storedEntry, storedLine, type StoredEntry } from './stored-entries';
export { plantNobodyLink } from './nobody-link';
