export { until } from './until';
export { tempDir, type TempDir } from './temp-dir';
export { rawConnect, type FrameLike, type RawConn } from './raw-connection';
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
export { helpOf, metric, parseMetrics, scrapeMetrics, type MetricSample } from './prometheus-text';
export { CJS_CLIENT, ESM_CLIENT, linkPackages, runScript, type ScriptResult } from './script-runner';
export {
  HOSTILE_PIECES,
  TERMINAL_UNSAFE,
  decodeSyslogLine,
  hostileEntry,
  hostileString,
  sampleEntry,
  type SampleEntry,
} from './hostile-text';
